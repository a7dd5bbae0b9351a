//! Parses the body of a Python legacy-API upload (the `multipart/form-data` POST that twine,
//! `uv publish` and poetry send) into a typed, streamed [`Upload`].
//!
//! [`ParseUploadLayer`] checks the request's `Content-Type` and hands the inner service a
//! `Request<Upload>` with the same method, URI, headers and extensions. A request that is not
//! `multipart/form-data` with a boundary gets `400 Bad Request` (plain text saying what to send)
//! and never reaches the inner service. Nothing is read from the body in the layer: parsing
//! happens as the handler pulls.
//!
//! The handler then:
//! 1. calls [`Upload::next_file`], which collects the text fields sent before the file (the
//!    [`Form`]: `:action`, `protocol_version`, `name`, `sha256_digest`, repeated
//!    `classifiers`, ...) and returns the `content` part as a [`FilePart`];
//! 2. streams the [`FilePart`] (a `Stream` of `Bytes`, `Send + 'static`, never buffered whole)
//!    to its destination, reading it to the end or dropping it;
//! 3. calls [`Upload::finish`] for the fields sent after the file, and gets the whole form.
//!
//! Every [`UploadError`] deserves a `400` with its text, except those for which
//! [`UploadError::is_client_error`] is `false` (the body failed to arrive, or the handler broke
//! the call order).
//!
//! Text fields are limited in size (default 1 MiB each, 2 MiB together) and count (default
//! 1000), and the fields of all uploads of one layer share a memory budget ([`FormMemory`],
//! default 64 MiB): a field that would go beyond it fails its upload with
//! [`UploadError::FormMemoryBusy`] instead of growing memory. See [`ParseUploadLayer`]. The
//! file is not limited here: add a body limit layer if needed.
//!
//! # Example
//!
//! ```
//! use futures_util::TryStreamExt;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use bytes::Bytes;
//! use pyoci_upload::{ParseUploadLayer, Upload, UploadError};
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let body = concat!(
//!     "--XyZ\r\n",
//!     "Content-Disposition: form-data; name=\":action\"\r\n\r\n",
//!     "file_upload\r\n",
//!     "--XyZ\r\n",
//!     "Content-Disposition: form-data; name=\"content\"; filename=\"demo-1.0-py3-none-any.whl\"\r\n",
//!     "Content-Type: application/octet-stream\r\n\r\n",
//!     "PK wheel bytes\r\n",
//!     "--XyZ\r\n",
//!     "Content-Disposition: form-data; name=\"sha256_digest\"\r\n\r\n",
//!     "0123abcd\r\n",
//!     "--XyZ--\r\n",
//! );
//!
//! let handler = service_fn(|request: Request<Upload>| async move {
//!     let mut upload = request.into_body();
//!     let file = upload.next_file().await?;
//!     let filename = file.filename().to_owned();
//!     // A real handler moves `file` into the registry upload instead.
//!     let content: Vec<u8> = file.map_ok(|chunk| chunk.to_vec()).try_concat().await?;
//!     let form = upload.finish().await?;
//!     let summary = format!(
//!         "{} {filename}: {} bytes, sha256 {}",
//!         form.get(":action").unwrap_or_default(),
//!         content.len(),
//!         form.get("sha256_digest").unwrap_or_default(),
//!     );
//!     Ok::<_, UploadError>(Response::new(Full::<Bytes>::from(summary)))
//! });
//! let service = ServiceBuilder::new().layer(ParseUploadLayer::new()).service(handler);
//!
//! let request = Request::post("/")
//!     .header("content-type", "multipart/form-data; boundary=XyZ")
//!     .body(Full::new(Bytes::from_static(body.as_bytes())))
//!     .unwrap();
//! let response = service.clone().oneshot(request).await.unwrap();
//! let text = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
//! assert_eq!(text, "file_upload demo-1.0-py3-none-any.whl: 14 bytes, sha256 0123abcd");
//!
//! // Not multipart: answered by the layer.
//! let request = Request::post("/")
//!     .header("content-type", "application/json")
//!     .body(Full::new(Bytes::from_static(b"{}")))
//!     .unwrap();
//! let response = service.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::BAD_REQUEST);
//! # }
//! ```
#![warn(missing_docs)]

mod content_type;
mod error;
mod form;
mod future;
mod layer;
mod memory;
mod paced;
mod service;
mod upload;
mod whole_body;

pub use content_type::multipart_boundary;
pub use error::{BoxError, UploadError};
pub use form::Form;
pub use future::ResponseFuture;
pub use layer::ParseUploadLayer;
pub use memory::FormMemory;
pub use service::ParseUpload;
pub use upload::{FilePart, Upload, UploadLimits};
