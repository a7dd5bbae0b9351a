//! `pyoci_upload::multipart_boundary` on raw `Content-Type` values, and `Upload::from_stream`
//! -> `next_file` -> drain the file -> `finish` on arbitrary bodies split into arbitrary
//! chunks, and on well-formed bodies built from arbitrary fields and file content.
//!
//! Properties: nothing panics or hangs (every stream here is always ready, so the executor
//! returning at all shows the parser made progress); for a well-formed body the file comes
//! back byte for byte under its filename, and every text field, before and after the file,
//! is in the finished form in order.

use arbitrary::Arbitrary;
use bytes::Bytes;
use futures_executor::block_on;
use futures_util::{stream, StreamExt};
use http::HeaderValue;
use pyoci_upload::{multipart_boundary, Form, Upload, UploadError};

#[derive(Arbitrary, Debug)]
pub struct Input<'a> {
    pub content_type: &'a [u8],
    pub boundary: &'a str,
    pub body: &'a [u8],
    /// Sizes the raw body is cut into before it is streamed.
    pub chunk_sizes: Vec<u8>,
    pub form: FormSpec<'a>,
}

#[derive(Arbitrary, Debug)]
pub struct FormSpec<'a> {
    pub before: Vec<(&'a str, &'a str)>,
    pub filename: &'a str,
    pub content: &'a [u8],
    pub after: Vec<(&'a str, &'a str)>,
}

/// Checks the properties above on one input; panics when one does not hold.
pub fn check(input: Input<'_>) {
    if let Ok(value) = HeaderValue::from_bytes(input.content_type) {
        if let Ok(boundary) = multipart_boundary(Some(&value)) {
            assert!(!boundary.is_empty(), "empty boundary from {value:?}");
        }
    }

    let chunks = cut(input.body, &input.chunk_sizes);
    let _ = block_on(read_upload(input.boundary.to_owned(), chunks));

    check_well_formed(&input.form, &input.chunk_sizes);
}

/// A finished upload: the file's name and bytes, and the whole form.
type Read = (String, Vec<u8>, Form);

async fn read_upload(boundary: String, chunks: Vec<Bytes>) -> Result<Read, UploadError> {
    let body = stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
    let mut upload = Upload::from_stream(boundary, body);
    let mut file = upload.next_file().await?;
    assert!(
        !file.filename().is_empty(),
        "file part with an empty filename"
    );
    let filename = file.filename().to_owned();
    let mut content = Vec::new();
    while let Some(chunk) = file.next().await {
        content.extend_from_slice(&chunk?);
    }
    drop(file);
    let form = upload.finish().await?;
    Ok((filename, content, form))
}

fn cut(body: &[u8], sizes: &[u8]) -> Vec<Bytes> {
    let mut chunks = Vec::new();
    let mut rest = body;
    for &size in sizes.iter().cycle().take(body.len()) {
        if rest.is_empty() {
            break;
        }
        let (chunk, tail) = rest.split_at(usize::from(size.max(1)).min(rest.len()));
        chunks.push(Bytes::copy_from_slice(chunk));
        rest = tail;
    }
    if !rest.is_empty() {
        chunks.push(Bytes::copy_from_slice(rest));
    }
    chunks
}

const BOUNDARY: &str = "pyoci-fuzz-boundary-d41d8cd98f00b204";

fn check_well_formed(spec: &FormSpec<'_>, chunk_sizes: &[u8]) {
    let clean = |text: &str| -> String {
        text.chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
            .collect()
    };
    let named = |fields: &[(&str, &str)]| -> Vec<(String, String)> {
        fields
            .iter()
            .map(|(name, value)| (clean(name), (*value).to_owned()))
            .filter(|(name, _)| !name.is_empty() && name != "content")
            .collect()
    };
    let before = named(&spec.before);
    let after = named(&spec.after);
    let filename = clean(spec.filename);
    let delimiter = format!("--{BOUNDARY}");
    let holds_delimiter = |bytes: &[u8]| {
        bytes
            .windows(delimiter.len())
            .any(|w| w == delimiter.as_bytes())
    };
    // The default limits allow 1000 text fields; stay under them.
    if filename.is_empty()
        || before.len() + after.len() >= 1000
        || holds_delimiter(spec.content)
        || before
            .iter()
            .chain(&after)
            .any(|(_, value)| holds_delimiter(value.as_bytes()))
    {
        return;
    }

    let mut body = Vec::new();
    let mut part = |disposition: String, content: &[u8]| {
        body.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; {disposition}\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    };
    for (name, value) in &before {
        part(format!("name=\"{name}\""), value.as_bytes());
    }
    part(
        format!("name=\"content\"; filename=\"{filename}\""),
        spec.content,
    );
    for (name, value) in &after {
        part(format!("name=\"{name}\""), value.as_bytes());
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());

    let chunks = cut(&body, chunk_sizes);
    let (read_filename, content, form) = match block_on(read_upload(BOUNDARY.to_owned(), chunks)) {
        Ok(read) => read,
        Err(error) => panic!(
            "well-formed upload rejected: {error}\n{}",
            String::from_utf8_lossy(&body)
        ),
    };
    assert_eq!(read_filename, filename);
    assert_eq!(content, spec.content, "file content changed");
    let expected: Vec<(&str, &str)> = before
        .iter()
        .chain(&after)
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let fields: Vec<(&str, &str)> = form.iter().collect();
    assert_eq!(fields, expected, "form fields changed");
}
