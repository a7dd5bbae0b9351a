use std::convert::Infallible;
use std::time::Duration;

use futures_util::{stream, StreamExt, TryStreamExt};

use super::*;

const BOUNDARY: &str = "----pyoci-test-7MA4YWxkTrZu0gW";

/// Builds a multipart body the way clients lay it out.
#[derive(Default)]
struct BodyBuilder {
    bytes: Vec<u8>,
}

impl BodyBuilder {
    fn part(mut self, disposition: &str, extra_headers: &str, content: &[u8]) -> Self {
        self.bytes.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; {disposition}\r\n{extra_headers}\r\n").as_bytes(),
        );
        self.bytes.extend_from_slice(content);
        self.bytes.extend_from_slice(b"\r\n");
        self
    }

    fn text(self, name: &str, value: &str) -> Self {
        self.part(&format!("name=\"{name}\""), "", value.as_bytes())
    }

    fn file(self, name: &str, filename: &str, content: &[u8]) -> Self {
        self.part(
            &format!("name=\"{name}\"; filename=\"{filename}\""),
            "Content-Type: application/octet-stream\r\n",
            content,
        )
    }

    fn end(mut self) -> Vec<u8> {
        self.bytes
            .extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
        self.bytes
    }
}

const WHEEL: &str = "demo-1.0-py3-none-any.whl";

fn twine_like(content: &[u8]) -> Vec<u8> {
    BodyBuilder::default()
        .text("name", "demo")
        .text("version", "1.0")
        .text("filetype", "bdist_wheel")
        .text("pyversion", "py3")
        .text("metadata_version", "2.1")
        .text("classifiers", "Programming Language :: Python :: 3")
        .text("classifiers", "License :: OSI Approved :: MIT License")
        .text("requires_dist", "requests>=2")
        .text("sha256_digest", "5e7b")
        .text(":action", "file_upload")
        .text("protocol_version", "1")
        .file("content", WHEEL, content)
        .end()
}

fn upload_of(body: Vec<u8>) -> Upload {
    Upload::from_stream(
        BOUNDARY,
        stream::iter([Ok::<_, Infallible>(Bytes::from(body))]),
    )
}

fn limited_upload_of(body: Vec<u8>, limits: UploadLimits) -> Upload {
    let chunks = stream::iter([Ok::<_, Infallible>(Bytes::from(body))]);
    Upload::from_stream_with_limits(BOUNDARY, chunks, limits)
}

/// Feeds `body` in chunks of `size` bytes, as a slow client would.
fn chunked_upload_of(body: Vec<u8>, size: usize) -> Upload {
    let chunks: Vec<_> = body
        .chunks(size)
        .map(|chunk| Ok::<_, Infallible>(Bytes::copy_from_slice(chunk)))
        .collect();
    Upload::from_stream(BOUNDARY, stream::iter(chunks))
}

/// Reads a whole upload the way a handler does.
async fn read_all(mut upload: Upload) -> Result<(String, Vec<u8>, Form), UploadError> {
    let file = upload.next_file().await?;
    let filename = file.filename().to_owned();
    let content = file.map_ok(|chunk| chunk.to_vec()).try_concat().await?;
    let form = upload.finish().await?;
    Ok((filename, content, form))
}

#[tokio::test]
async fn reads_a_twine_like_upload() {
    let mut upload = upload_of(twine_like(b"wheel bytes"));
    let file = upload.next_file().await.unwrap();
    assert_eq!(file.filename(), WHEEL);
    assert_eq!(file.content_type(), Some("application/octet-stream"));
    assert_eq!(upload.form().get(":action"), Some("file_upload"));
    assert_eq!(upload.form().get("protocol_version"), Some("1"));

    let content = file
        .map_ok(|chunk| chunk.to_vec())
        .try_concat()
        .await
        .unwrap();
    assert_eq!(content, b"wheel bytes");
    let form = upload.finish().await.unwrap();
    assert_eq!(form.len(), 11);
    assert_eq!(
        form.get_all("classifiers").collect::<Vec<_>>(),
        [
            "Programming Language :: Python :: 3",
            "License :: OSI Approved :: MIT License"
        ]
    );
    assert_eq!(form.get("requires_dist"), Some("requests>=2"));
}

#[tokio::test]
async fn fields_after_the_file_are_returned_by_finish() {
    let body = BodyBuilder::default()
        .text(":action", "file_upload")
        .file("content", WHEEL, b"abc")
        .text("sha256_digest", "ba7816bf")
        .text("classifiers", "A")
        .text("classifiers", "B")
        .end();
    let mut upload = upload_of(body);
    let file = upload.next_file().await.unwrap();
    assert_eq!(upload.form().get("sha256_digest"), None);
    file.try_collect::<Vec<_>>().await.unwrap();
    let form = upload.finish().await.unwrap();
    assert_eq!(form.get(":action"), Some("file_upload"));
    assert_eq!(form.get("sha256_digest"), Some("ba7816bf"));
    assert_eq!(form.get_all("classifiers").collect::<Vec<_>>(), ["A", "B"]);
}

#[tokio::test]
async fn empty_and_multiline_text_values_are_kept() {
    let body = BodyBuilder::default()
        .text("requires_python", "")
        .text("description", "line one\r\n\r\nline two")
        .file("content", WHEEL, b"x")
        .end();
    let (_, _, form) = read_all(upload_of(body)).await.unwrap();
    assert_eq!(form.get("requires_python"), Some(""));
    assert_eq!(form.get("description"), Some("line one\r\n\r\nline two"));
}

#[tokio::test]
async fn an_empty_file_is_an_empty_stream() {
    let (_, content, _) = read_all(upload_of(twine_like(b""))).await.unwrap();
    assert!(content.is_empty());
}

#[tokio::test]
async fn missing_content_part_is_an_error() {
    let body = BodyBuilder::default().text(":action", "file_upload").end();
    let error = upload_of(body).next_file().await.unwrap_err();
    assert!(matches!(error, UploadError::MissingContent), "{error:?}");
    assert!(error.is_client_error());
    assert!(error
        .to_string()
        .starts_with("the upload has no `content` file part"));
}

#[tokio::test]
async fn content_without_filename_is_an_error() {
    let body = BodyBuilder::default().text("content", "not a file").end();
    let error = upload_of(body).next_file().await.unwrap_err();
    assert!(matches!(error, UploadError::MissingFilename), "{error:?}");

    let body = BodyBuilder::default().file("content", "", b"x").end();
    let error = upload_of(body).next_file().await.unwrap_err();
    assert!(matches!(error, UploadError::MissingFilename), "{error:?}");
}

#[tokio::test]
async fn oversize_text_field_is_rejected_with_its_name() {
    let limits = UploadLimits {
        max_text_field_size: 1024,
        ..UploadLimits::default()
    };
    let body = BodyBuilder::default()
        .text("description", &"x".repeat(1025))
        .file("content", WHEEL, b"x")
        .end();
    let error = limited_upload_of(body, limits)
        .next_file()
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "field `description` is larger than 1 KiB"
    );
    assert!(error.is_client_error());
}

#[tokio::test]
async fn default_limit_rejects_a_text_field_over_one_mib() {
    let body = BodyBuilder::default()
        .text("description", &"x".repeat(1024 * 1024 + 1))
        .file("content", WHEEL, b"x")
        .end();
    let error = upload_of(body).next_file().await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "field `description` is larger than 1 MiB"
    );
}

#[tokio::test]
async fn text_field_at_the_limit_and_file_above_it_are_accepted() {
    let limits = UploadLimits {
        max_text_field_size: 16,
        ..UploadLimits::default()
    };
    let content = vec![7u8; 4096];
    let body = BodyBuilder::default()
        .text("summary", &"s".repeat(16))
        .file("content", WHEEL, &content)
        .end();
    let (_, received, form) = read_all(limited_upload_of(body, limits)).await.unwrap();
    assert_eq!(received, content);
    assert_eq!(form.get("summary").map(str::len), Some(16));
}

#[tokio::test]
async fn too_many_fields_are_rejected() {
    let limits = UploadLimits {
        max_fields: 3,
        ..UploadLimits::default()
    };
    let body = BodyBuilder::default()
        .text("classifiers", "1")
        .text("classifiers", "2")
        .text("classifiers", "3")
        .text("classifiers", "4")
        .file("content", WHEEL, b"x")
        .end();
    let error = limited_upload_of(body, limits)
        .next_file()
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "the upload has more than 3 form fields");
}

#[tokio::test]
async fn the_field_limit_counts_fields_after_the_file_too() {
    let limits = UploadLimits {
        max_fields: 1,
        ..UploadLimits::default()
    };
    let body = BodyBuilder::default()
        .text("name", "demo")
        .file("content", WHEEL, b"x")
        .text("version", "1.0")
        .end();
    let error = read_all(limited_upload_of(body, limits)).await.unwrap_err();
    assert!(
        matches!(error, UploadError::TooManyFields { limit: 1 }),
        "{error:?}"
    );
}

#[tokio::test]
async fn non_utf8_text_is_rejected() {
    let body = BodyBuilder::default()
        .part("name=\"summary\"", "", b"caf\xe9")
        .file("content", WHEEL, b"x")
        .end();
    let error = upload_of(body).next_file().await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "field `summary` is not valid UTF-8; send text fields as UTF-8"
    );
}

#[tokio::test]
async fn a_second_file_part_is_rejected() {
    let body = BodyBuilder::default()
        .file("content", WHEEL, b"x")
        .file("content", "other-1.0.tar.gz", b"y")
        .end();
    let error = read_all(upload_of(body)).await.unwrap_err();
    assert!(
        matches!(&error, UploadError::ExtraFile { name } if name == "content"),
        "{error:?}"
    );

    let body = BodyBuilder::default()
        .file("content", WHEEL, b"x")
        .file("gpg_signature", "demo.whl.asc", b"sig")
        .end();
    let error = read_all(upload_of(body)).await.unwrap_err();
    assert!(matches!(&error, UploadError::ExtraFile { name } if name == "gpg_signature"));
}

#[tokio::test]
async fn a_file_under_another_name_before_content_is_rejected() {
    let body = BodyBuilder::default()
        .file("attachment", "notes.txt", b"x")
        .file("content", WHEEL, b"y")
        .end();
    let error = upload_of(body).next_file().await.unwrap_err();
    assert!(matches!(&error, UploadError::ExtraFile { name } if name == "attachment"));
}

#[tokio::test]
async fn a_part_without_a_name_is_rejected() {
    let body = BodyBuilder::default()
        .part("filename=\"x.whl\"", "", b"x")
        .end();
    let error = upload_of(body).next_file().await.unwrap_err();
    assert!(matches!(error, UploadError::UnnamedPart), "{error:?}");
}

#[tokio::test]
async fn file_sent_in_many_small_chunks_arrives_intact() {
    let content: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
    for chunk_size in [1, 3, 7, 64, 1000] {
        let upload = chunked_upload_of(twine_like(&content), chunk_size);
        let (filename, received, form) = read_all(upload).await.unwrap();
        assert_eq!(filename, WHEEL);
        assert_eq!(received, content, "chunk size {chunk_size}");
        assert_eq!(form.get("protocol_version"), Some("1"));
    }
}

#[tokio::test]
async fn binary_content_with_crlf_and_dashes_is_not_cut() {
    let mut content = b"\r\n--\r\n----\r\n--".to_vec();
    // Almost the delimiter, missing its last character.
    content.extend_from_slice(format!("\r\n--{}", &BOUNDARY[..BOUNDARY.len() - 1]).as_bytes());
    // The boundary without the CRLF that would make it a delimiter.
    content.extend_from_slice(format!("--{BOUNDARY}").as_bytes());
    content.extend_from_slice(b"\x00\xff\r\r\n\n--\r\n");
    for chunk_size in [1, 2, 5, 4096] {
        let upload = chunked_upload_of(twine_like(&content), chunk_size);
        let (_, received, _) = read_all(upload).await.unwrap();
        assert_eq!(received, content, "chunk size {chunk_size}");
    }
}

#[tokio::test]
async fn every_truncation_is_an_error_not_a_panic_or_a_hang() {
    let body = BodyBuilder::default()
        .text(":action", "file_upload")
        .file("content", WHEEL, b"wheel\r\n--bytes")
        .text("sha256_digest", "ab")
        .end();
    // The CRLF after the closing delimiter is optional: without it the body is complete.
    let complete = read_all(chunked_upload_of(body[..body.len() - 2].to_vec(), 5)).await;
    assert!(complete.is_ok(), "{complete:?}");
    for length in 0..body.len() - 2 {
        let truncated = body[..length].to_vec();
        let outcome = tokio::time::timeout(
            Duration::from_secs(5),
            read_all(chunked_upload_of(truncated, 5)),
        )
        .await
        .unwrap_or_else(|_| panic!("hung on a body cut at {length} bytes"));
        let error = outcome.expect_err(&format!("accepted a body cut at {length} bytes"));
        assert!(error.is_client_error(), "cut at {length}: {error:?}");
    }
}

#[tokio::test]
async fn truncated_file_reports_the_body_ended_early() {
    let mut body = twine_like(b"0123456789");
    body.truncate(body.len() - 30);
    let mut upload = upload_of(body);
    let file = upload.next_file().await.unwrap();
    let error = file.try_collect::<Vec<_>>().await.unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("the multipart body ended early"),
        "{error}"
    );
}

#[tokio::test]
async fn body_read_failure_while_streaming_the_file_is_not_a_client_error() {
    let mut body = twine_like(b"0123456789");
    body.truncate(body.len() - 30);
    let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
    let chunks = stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|chunk| (chunk, receiver))
    });
    let mut upload = Upload::from_stream(BOUNDARY, chunks);
    sender.send(Ok(Bytes::from(body))).unwrap();
    let file = upload.next_file().await.unwrap();
    // The connection breaks while the file is being streamed.
    let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "client went away");
    sender.send(Err(reset)).unwrap();
    let error = file.try_collect::<Vec<_>>().await.unwrap_err();
    assert!(matches!(error, UploadError::BodyRead(_)), "{error:?}");
    assert!(!error.is_client_error());
    assert!(error.to_string().contains("client went away"));
}

#[tokio::test]
async fn body_read_failure_before_the_file_is_reported_by_next_file() {
    let reset = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "client went away");
    let chunks = stream::iter([Ok(Bytes::from_static(b"--")), Err(reset)]);
    let error = Upload::from_stream(BOUNDARY, chunks)
        .next_file()
        .await
        .unwrap_err();
    assert!(matches!(error, UploadError::BodyRead(_)), "{error:?}");
}

#[tokio::test]
async fn finish_before_next_file_is_a_misuse() {
    let error = upload_of(twine_like(b"x")).finish().await.unwrap_err();
    assert!(matches!(error, UploadError::OutOfOrder { .. }), "{error:?}");
    assert!(!error.is_client_error());
}

#[tokio::test]
async fn finish_while_the_file_is_held_unread_is_a_misuse() {
    let mut upload = upload_of(twine_like(b"x"));
    let file = upload.next_file().await.unwrap();
    let error = upload.finish().await.unwrap_err();
    assert!(matches!(error, UploadError::OutOfOrder { .. }), "{error:?}");
    drop(file);
}

#[tokio::test]
async fn next_file_twice_is_a_misuse() {
    let mut upload = upload_of(twine_like(b"x"));
    let _file = upload.next_file().await.unwrap();
    let error = upload.next_file().await.unwrap_err();
    assert!(matches!(error, UploadError::OutOfOrder { .. }), "{error:?}");
}

#[tokio::test]
async fn finish_works_while_the_fully_read_file_is_still_held() {
    let body = BodyBuilder::default()
        .file("content", WHEEL, b"abc")
        .text("md5_digest", "900150983cd24fb0")
        .end();
    let mut upload = upload_of(body);
    let mut file = upload.next_file().await.unwrap();
    while file.next().await.is_some() {}
    let form = upload.finish().await.unwrap();
    assert_eq!(form.get("md5_digest"), Some("900150983cd24fb0"));
    assert!(file.next().await.is_none());
}

#[tokio::test]
async fn dropping_the_file_early_skips_the_rest_of_it() {
    let content = vec![b'w'; 50_000];
    let body = BodyBuilder::default()
        .file("content", WHEEL, &content)
        .text("sha256_digest", "after")
        .end();
    let mut upload = chunked_upload_of(body, 1000);
    let mut file = upload.next_file().await.unwrap();
    let first = file.next().await.unwrap().unwrap();
    assert!(!first.is_empty());
    drop(file);
    let form = upload.finish().await.unwrap();
    assert_eq!(form.get("sha256_digest"), Some("after"));
}

#[test]
fn the_file_part_can_move_into_an_outgoing_body() {
    fn assert_send_static<T: Send + 'static>() {}
    assert_send_static::<FilePart>();
    assert_send_static::<Upload>();
    assert_send_static::<UploadError>();
}

/// `body` in two chunks, split at `split`, the second only once `release` fires; and how
/// many chunks were taken from it.
fn gated_upload_of(
    body: Vec<u8>,
    split: usize,
    declared: Option<u64>,
) -> (
    Upload,
    tokio::sync::oneshot::Sender<Vec<u8>>,
    std::sync::Arc<std::sync::atomic::AtomicUsize>,
) {
    let (release, rest) = tokio::sync::oneshot::channel::<Vec<u8>>();
    let taken = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let first = Bytes::copy_from_slice(&body[..split]);
    let counter = taken.clone();
    let chunks = stream::once(async move { Ok::<_, std::io::Error>(first) })
        .chain(stream::once(async move {
            let more = rest.await.map_err(std::io::Error::other)?;
            Ok(Bytes::from(more))
        }))
        .inspect(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        });
    let upload = Upload::with_declared_length(BOUNDARY, chunks, UploadLimits::default(), declared);
    (upload, release, taken)
}

// Paused time: the timeout below fires only once every task is idle, that is once `finish`
// can make no more progress without the rest of the body.
#[tokio::test(start_paused = true)]
async fn finish_waits_for_the_bytes_after_the_closing_boundary() {
    let body = twine_like(b"wheel");
    let epilogue = b"\r\nan epilogue\r\n".to_vec();
    let declared = (body.len() + epilogue.len()) as u64;
    let (mut upload, release, taken) = gated_upload_of(body.clone(), body.len(), Some(declared));
    let file = upload.next_file().await.unwrap();
    let content: Vec<u8> = file.map_ok(|c| c.to_vec()).try_concat().await.unwrap();
    assert_eq!(content, b"wheel");
    let mut finish = Box::pin(upload.finish());
    // The closing boundary is in: still, no answer while the declared rest is missing.
    assert!(
        tokio::time::timeout(Duration::from_secs(60), &mut finish)
            .await
            .is_err(),
        "finish returned before the body was complete"
    );
    assert_eq!(taken.load(std::sync::atomic::Ordering::SeqCst), 1);
    release.send(epilogue).unwrap();
    let form = finish.await.unwrap();
    assert_eq!(form.get(":action"), Some("file_upload"));
    assert_eq!(taken.load(std::sync::atomic::Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_body_that_breaks_off_after_the_closing_boundary_fails_finish() {
    let body = twine_like(b"wheel");
    let declared = body.len() as u64 + 100;
    let (upload, release, _) = gated_upload_of(body.clone(), body.len(), Some(declared));
    drop(release); // the client goes away before sending what it declared
    let error = read_all(upload).await.unwrap_err();
    assert!(matches!(error, UploadError::BodyRead(_)), "{error:?}");
}

#[tokio::test]
async fn a_body_shorter_or_longer_than_its_content_length_is_refused() {
    let body = twine_like(b"wheel");
    for declared in [body.len() as u64 + 1, body.len() as u64 - 1] {
        let chunks = stream::iter([Ok::<_, Infallible>(Bytes::from(body.clone()))]);
        let upload =
            Upload::with_declared_length(BOUNDARY, chunks, UploadLimits::default(), Some(declared));
        let error = read_all(upload).await.unwrap_err();
        assert!(
            matches!(error, UploadError::LengthMismatch { received, .. } if received == body.len() as u64),
            "{declared}: {error:?}"
        );
        assert!(error.is_client_error());
        assert!(error.to_string().contains("Content-Length"), "{error}");
    }
}

#[tokio::test]
async fn a_long_epilogue_is_refused() {
    let mut body = twine_like(b"wheel");
    body.extend(vec![b'x'; 100 * 1024]);
    let error = read_all(chunked_upload_of(body, 1024)).await.unwrap_err();
    assert!(
        matches!(error, UploadError::TrailingData { .. }),
        "{error:?}"
    );
}

/// Many fields each under the per-field limit: refused once they add up past the total,
/// before the rest of the body is read.
#[tokio::test]
async fn the_text_fields_together_are_limited() {
    let limits = UploadLimits {
        max_form_bytes: 64 * 1024,
        ..UploadLimits::default()
    };
    let value = "x".repeat(10 * 1024);
    let mut body = BodyBuilder::default();
    for n in 0..100 {
        body = body.text(&format!("field{n}"), &value);
    }
    let error = limited_upload_of(body.file("content", WHEEL, b"w").end(), limits)
        .next_file()
        .await
        .unwrap_err();
    assert!(
        matches!(error, UploadError::FormTooLarge { limit } if limit == 64 * 1024),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "the upload's text fields together are larger than 64 KiB; send shorter metadata \
         (a long description belongs in the package, not the form)"
    );
    assert!(error.is_client_error());

    // The same form under the limit is read whole.
    let (_, _, form) = read_all(upload_of(twine_like(b"w"))).await.unwrap();
    assert_eq!(form.len(), 11);
}

/// Uploads sharing a budget: the one that would go beyond it fails at once (the server is
/// busy, not the client wrong), and the budget comes back as forms are dropped.
#[tokio::test]
async fn uploads_share_one_memory_budget() {
    let memory = FormMemory::new(40 * 1024);
    let value = "y".repeat(15 * 1024);
    let body = || {
        BodyBuilder::default()
            .text("description", &value)
            .file("content", WHEEL, b"w")
            .text(":action", "file_upload")
            .end()
    };
    let first = read_all(upload_of(body()).within(&memory)).await.unwrap();
    let second = read_all(upload_of(body()).within(&memory)).await.unwrap();
    let held = memory.held();
    assert!(held > 30 * 1024 && held <= 40 * 1024, "held {held}");
    let third = read_all(upload_of(body()).within(&memory))
        .await
        .unwrap_err();
    assert!(matches!(third, UploadError::FormMemoryBusy), "{third:?}");
    assert!(!third.is_client_error());
    assert_eq!(memory.held(), held, "the refused upload holds nothing");
    drop(first);
    assert!(read_all(upload_of(body()).within(&memory)).await.is_ok());
    drop(second);
    assert_eq!(memory.held(), 0);
}
