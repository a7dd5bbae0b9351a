//! The streamed upload handed to the handler.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::Stream;
use multer::{Constraints, Field, Multipart, SizeLimit};

use crate::error::BoxError;
use crate::memory::FormMemory;
use crate::paced::Paced;
use crate::whole_body::WholeBody;
use crate::{Form, UploadError};

/// The name of the part that carries the distribution file.
const CONTENT: &str = "content";

/// Bounds on what an upload may hold in memory.
///
/// The file itself is never buffered, so it has no limit here; put a body limit layer in front
/// if uploads must be capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// The largest text field accepted, in bytes (default 1 MiB: long READMEs arrive as the
    /// `description` field).
    pub max_text_field_size: usize,
    /// The most text fields accepted, counting repeats (default 1000).
    pub max_fields: usize,
    /// The most bytes of all text fields together, names included (default 2 MiB).
    pub max_form_bytes: usize,
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            max_text_field_size: 1024 * 1024,
            max_fields: 1000,
            max_form_bytes: 2 * 1024 * 1024,
        }
    }
}

/// A legacy-API upload body, parsed lazily as the handler pulls from it.
///
/// Call order (anything else fails with [`UploadError::OutOfOrder`]):
/// 1. [`Upload::next_file`] once: reads the text fields sent before the file and returns the
///    `content` part as a stream;
/// 2. read that [`FilePart`] to its end (or until it fails), or drop it — dropping it early
///    skips the rest of the file;
/// 3. [`Upload::finish`]: reads the text fields sent after the file and returns all fields.
///
/// Step 3 is needed because clients may send fields after the file, and the parser can only
/// move to the next part once the file part is done.
#[derive(Debug)]
pub struct Upload {
    multipart: Multipart<'static>,
    /// The body, read to its end by [`Upload::finish`] after the parser stops.
    body: WholeBody,
    form: Form,
    /// Bytes of text fields (names and values) read so far.
    form_bytes: usize,
    max_fields: usize,
    max_form_bytes: usize,
    file: FileProgress,
}

#[derive(Debug)]
enum FileProgress {
    NotRead,
    /// Set to `true` once the handed-out part stops borrowing the parser.
    HandedOut(Arc<AtomicBool>),
}

/// What a part is, judged from its `Content-Disposition`.
enum PartKind {
    Text(String),
    Content { filename: Option<String> },
    OtherFile(String),
}

impl Upload {
    /// Parses `stream` as a `multipart/form-data` body with `boundary`, with default limits.
    ///
    /// This is also the entry point for fuzzing: any byte stream may be fed in.
    pub fn from_stream<S, E>(boundary: impl Into<String>, stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        Self::from_stream_with_limits(boundary, stream, UploadLimits::default())
    }

    /// Parses `stream` as a `multipart/form-data` body with `boundary` and `limits`.
    pub fn from_stream_with_limits<S, E>(
        boundary: impl Into<String>,
        stream: S,
        limits: UploadLimits,
    ) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        Self::with_declared_length(boundary, stream, limits, None)
    }

    /// Like [`Upload::from_stream_with_limits`] for a body whose `Content-Length` was
    /// `declared`: [`Upload::finish`] fails unless exactly that many bytes arrived.
    pub fn with_declared_length<S, E>(
        boundary: impl Into<String>,
        stream: S,
        limits: UploadLimits,
        declared: Option<u64>,
    ) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
    {
        let body = WholeBody::new(stream, declared);
        let text_limit = u64::try_from(limits.max_text_field_size).unwrap_or(u64::MAX);
        let sizes = SizeLimit::new()
            .per_field(text_limit)
            .for_field(CONTENT, u64::MAX);
        let constraints = Constraints::new().size_limit(sizes);
        Self {
            multipart: Multipart::with_constraints(Paced::new(body.clone()), boundary, constraints),
            body,
            form: Form::reserved_in(FormMemory::new(usize::MAX).reservation()),
            form_bytes: 0,
            max_fields: limits.max_fields,
            max_form_bytes: limits.max_form_bytes,
            file: FileProgress::NotRead,
        }
    }

    /// Holds the text fields within `memory`, a budget shared with other uploads, instead of
    /// a budget of this upload's own. Call it before reading anything.
    pub fn within(mut self, memory: &FormMemory) -> Self {
        self.form = Form::reserved_in(memory.reservation());
        self
    }

    /// The text fields read so far.
    pub fn form(&self) -> &Form {
        &self.form
    }

    /// Reads text fields until the `content` file part and returns that part.
    ///
    /// Fails when the body ends first ([`UploadError::MissingContent`]), when the `content`
    /// part has no filename, when another file part comes first, or when a text field breaks
    /// a limit or is not UTF-8.
    pub async fn next_file(&mut self) -> Result<FilePart, UploadError> {
        if matches!(self.file, FileProgress::HandedOut(_)) {
            return Err(UploadError::OutOfOrder {
                misuse: "next_file was called a second time",
            });
        }
        loop {
            let field = self.next_part().await?.ok_or(UploadError::MissingContent)?;
            match kind_of(&field)? {
                PartKind::Text(name) => self.read_text(field, name).await?,
                PartKind::OtherFile(name) => return Err(UploadError::ExtraFile { name }),
                PartKind::Content { filename: None } => return Err(UploadError::MissingFilename),
                PartKind::Content {
                    filename: Some(filename),
                } => return Ok(self.hand_out(field, filename)),
            }
        }
    }

    /// Reads the text fields after the file and returns every field of the upload.
    ///
    /// Call it after the [`FilePart`] from [`Upload::next_file`] was read to its end or
    /// dropped; fails on a second file part. Returns only once the whole body has arrived:
    /// after the closing boundary it reads on to the body's end, and fails when more than a
    /// short epilogue follows, or when the body's length differs from its `Content-Length`.
    pub async fn finish(mut self) -> Result<Form, UploadError> {
        match &self.file {
            FileProgress::NotRead => {
                return Err(UploadError::OutOfOrder {
                    misuse: "finish was called before next_file returned the file",
                })
            }
            FileProgress::HandedOut(released) if !released.load(Ordering::Acquire) => {
                return Err(UploadError::OutOfOrder {
                    misuse: "finish was called while the file part was still unread; read it to the end or drop it first",
                })
            }
            FileProgress::HandedOut(_) => {}
        }
        while let Some(field) = self.next_part().await? {
            match kind_of(&field)? {
                PartKind::Text(name) => self.read_text(field, name).await?,
                PartKind::OtherFile(name) => return Err(UploadError::ExtraFile { name }),
                PartKind::Content { .. } => {
                    return Err(UploadError::ExtraFile {
                        name: CONTENT.to_owned(),
                    })
                }
            }
        }
        self.body.read_to_end().await?;
        Ok(self.form)
    }

    async fn next_part(&mut self) -> Result<Option<Field<'static>>, UploadError> {
        self.multipart
            .next_field()
            .await
            .map_err(UploadError::from_multer)
    }

    async fn read_text(
        &mut self,
        mut field: Field<'static>,
        name: String,
    ) -> Result<(), UploadError> {
        if self.form.len() >= self.max_fields {
            return Err(UploadError::TooManyFields {
                limit: self.max_fields,
            });
        }
        // Each piece is counted and reserved before it is kept, so a form can never hold
        // more than its limit, nor all forms together more than their budget.
        self.hold(name.len())?;
        let mut value = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(UploadError::from_multer)? {
            self.hold(chunk.len())?;
            value.extend_from_slice(&chunk);
        }
        let value =
            String::from_utf8(value).map_err(|_| UploadError::NotUtf8 { name: name.clone() })?;
        self.form.push(name, value);
        Ok(())
    }

    fn hold(&mut self, bytes: usize) -> Result<(), UploadError> {
        self.form_bytes = self.form_bytes.saturating_add(bytes);
        if self.form_bytes > self.max_form_bytes {
            return Err(UploadError::FormTooLarge {
                limit: self.max_form_bytes as u64,
            });
        }
        if !self.form.reserve(bytes) {
            return Err(UploadError::FormMemoryBusy);
        }
        Ok(())
    }

    fn hand_out(&mut self, field: Field<'static>, filename: String) -> FilePart {
        let released = Arc::new(AtomicBool::new(false));
        self.file = FileProgress::HandedOut(Arc::clone(&released));
        FilePart {
            content_type: field.content_type().map(ToString::to_string),
            field: Some(field),
            filename,
            released,
        }
    }
}

fn kind_of(field: &Field<'static>) -> Result<PartKind, UploadError> {
    let name = field.name().ok_or(UploadError::UnnamedPart)?;
    let filename = field.file_name().filter(|filename| !filename.is_empty());
    Ok(match (name, filename) {
        (CONTENT, filename) => PartKind::Content {
            filename: filename.map(str::to_owned),
        },
        (name, Some(_)) => PartKind::OtherFile(name.to_owned()),
        (name, None) => PartKind::Text(name.to_owned()),
    })
}

/// The uploaded distribution file: a stream of its bytes, read from the request as it is
/// polled (never buffered whole).
///
/// It is `Send + 'static`, so it can be moved into an outgoing request body. Read it to the
/// end (or drop it) before calling [`Upload::finish`].
#[derive(Debug)]
pub struct FilePart {
    /// `None` once the part stopped borrowing the parser (ended, failed, or dropped).
    field: Option<Field<'static>>,
    filename: String,
    content_type: Option<String>,
    released: Arc<AtomicBool>,
}

impl FilePart {
    /// The filename from the part's `Content-Disposition`, exactly as sent (never empty).
    ///
    /// Untrusted: validate it as a wheel or sdist name before using it.
    pub fn filename(&self) -> &str {
        &self.filename
    }

    /// The part's `Content-Type`, if it sent one (twine sends `application/octet-stream`).
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// Gives the parser back to the [`Upload`] so that [`Upload::finish`] may continue.
    fn release(&mut self) {
        self.field = None;
        self.released.store(true, Ordering::Release);
    }
}

impl Stream for FilePart {
    type Item = Result<Bytes, UploadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            let Some(field) = this.field.as_mut() else {
                return Poll::Ready(None);
            };
            match Pin::new(field).poll_next(cx) {
                Poll::Ready(Some(Ok(chunk))) if chunk.is_empty() => continue,
                Poll::Ready(Some(Ok(chunk))) => return Poll::Ready(Some(Ok(chunk))),
                Poll::Ready(Some(Err(error))) => {
                    this.release();
                    return Poll::Ready(Some(Err(UploadError::from_multer(error))));
                }
                Poll::Ready(None) => {
                    this.release();
                    return Poll::Ready(None);
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Drop for FilePart {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests;
