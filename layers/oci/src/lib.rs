//! An OCI distribution-spec client, built on the outgoing tower HTTP service.
//!
//! [`OciClient`] speaks the registry API PyOCI needs: tags, manifests and image indexes,
//! blobs (small ones in one request, big ones streamed without buffering), deletes. It sends
//! every request through an outgoing service `S` of type
//! `Service<http::Request<reqwest::Body>, Response = http::Response<reqwest::Body>, Error = BoxError>`
//! — normally the token-exchange layer over [`HttpClient`] — and puts the user's
//! [`Credentials`](pyoci_core::Credentials) in each request's extensions; it never adds an
//! `Authorization` header itself.
//!
//! Every failure is an [`OciError`]; [`OciError::status_hint`] gives the HTTP status the proxy
//! should answer with. Repository names are always sent lowercase.
//!
//! # Example
//!
//! A stub registry stands in for the network here; in the proxy, `service` is the
//! token-exchange layer over `HttpClient::new(reqwest::Client::new())`.
//!
//! ```
//! use http::{Request, Response, StatusCode};
//! use pyoci_core::Credentials;
//! use pyoci_oci::{OciClient, OciError, Registry};
//! use tower::{service_fn, BoxError};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), OciError> {
//! let registry_stub = service_fn(|request: Request<reqwest::Body>| async move {
//!     let response = match request.uri().path() {
//!         "/v2/acme/hello_world/tags/list" => Response::new(reqwest::Body::from(
//!             r#"{"name":"acme/hello_world","tags":["1.0.0","0.9.0"]}"#,
//!         )),
//!         _ => {
//!             let mut missing = Response::new(reqwest::Body::from(
//!                 r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}"#,
//!             ));
//!             *missing.status_mut() = StatusCode::NOT_FOUND;
//!             missing
//!         }
//!     };
//!     Ok::<_, BoxError>(response)
//! });
//!
//! let registry = Registry::new("https", "ghcr.io")?;
//! let client = OciClient::new(registry_stub, registry, Credentials::Anonymous);
//!
//! // Names are sent lowercase.
//! let tags = client.list_tags("Acme/Hello_World").await?;
//! assert_eq!(tags, ["1.0.0", "0.9.0"]);
//!
//! let missing = client.list_tags("acme/nothing").await.unwrap_err();
//! assert!(matches!(missing, OciError::NotFound { .. }));
//! assert_eq!(missing.status_hint(), StatusCode::NOT_FOUND);
//! # Ok(())
//! # }
//! ```
//!
//! # Keeping requests off private networks
//!
//! The registry's address comes from whoever sends the request, so the proxy builds its
//! [`HttpClient`] with an [`AddressPolicy`]: names resolving only to loopback, private,
//! link-local... addresses ([`restricted_range`]), such addresses given literally, and
//! redirects to them all fail with [`OciError::AddressRefused`] (403), unless the origin
//! (scheme, host and port) is trusted.
//!
//! ```
//! use pyoci_core::Credentials;
//! use pyoci_oci::{AddressPolicy, HttpClient, OciClient, OciError, Registry};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let policy = AddressPolicy::public_only().trust_origin("https", "registry.internal", None);
//! let http = HttpClient::with_address_policy(reqwest::Client::builder(), policy)?;
//! let metadata_service = Registry::new("http", "169.254.169.254")?;
//! let client = OciClient::new(http, metadata_service, Credentials::Anonymous);
//! let refused = client.list_tags("acme/hello").await.unwrap_err();
//! assert!(matches!(refused, OciError::AddressRefused(_)));
//! # Ok(())
//! # }
//! ```
//!
//! # Streaming a big blob
//!
//! ```no_run
//! # use bytes::Bytes;
//! # use pyoci_core::Credentials;
//! # use pyoci_oci::{HttpClient, OciClient, OciError, Registry, Sha256Stream};
//! # async fn upload(body: impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static) -> Result<(), OciError> {
//! let client = OciClient::new(
//!     HttpClient::new(reqwest::Client::new()),
//!     Registry::new("http", "127.0.0.1:5000")?,
//!     Credentials::Anonymous,
//! );
//! let (hashing, sha256) = Sha256Stream::new(body);
//! let upload = client.start_blob_upload("acme/hello_world").await?;
//! let upload = upload.send_stream(hashing).await?;
//! let Some(computed) = sha256.result() else {
//!     upload.cancel().await;
//!     return Ok(());
//! };
//! let blob = upload.commit(&computed.digest).await?;
//! assert_eq!(blob.size, computed.size);
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod address;
mod api_check;
mod blobs;
mod client;
mod connection_budget;
mod digest;
mod error;
mod http_client;
mod manifests;
mod names;
mod ranges;
mod registry;
mod resolver;
mod sha256_stream;
mod tags;
mod types;
mod upload;

#[cfg(any(test, feature = "test-util"))]
pub mod test_util;

pub use address::{AddressPolicy, AddressRefused};
pub use blobs::BlobDownload;
pub use client::{BypassCaches, OciClient, RegistryHttp};
pub use digest::Digest;
pub use error::{error_for_status, read_body, OciError};
pub use http_client::{
    FinalUrl, HandOverRedirects, HttpClient, HttpClientFuture, TooManyRedirects,
};
pub use manifests::{
    Precondition, TaggedIndex, DOCKER_MANIFEST_LIST_MEDIA_TYPE, DOCKER_MANIFEST_MEDIA_TYPE,
};
pub use names::{normalize_repository, validate_tag};
pub use ranges::{restricted_range, RestrictedRange};
pub use registry::Registry;
pub use sha256_stream::{Sha256Handle, Sha256Stream, StreamDigest};
pub use tags::parse_next_link;
pub use types::{
    Descriptor, ImageIndex, ImageManifest, Manifest, Platform, EMPTY_CONFIG_BYTES,
    EMPTY_CONFIG_DIGEST, EMPTY_CONFIG_MEDIA_TYPE, OCI_INDEX_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE,
};
pub use upload::{BlobUpload, CommittedBlob};
