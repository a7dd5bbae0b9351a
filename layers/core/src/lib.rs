//! What PyOCI's layer crates share, so each concern is written once.
//!
//! - [`ResponseBody`]: the body of a layer's responses, either the inner service's body
//!   untouched or a text the layer wrote itself (a rendered page, an error message). Layers
//!   answer with it, so they work over any inner body, not only bodies made from a `String`.
//! - [`text_response`]: the plain-text answer every layer gives for a request it refuses.
//! - [`Credentials`] and [`Secret`]: who the client is, with passwords and tokens that never
//!   print (`***`), passed from the incoming layers to the registry client.
//! - [`normalize_project_name`]: PEP 503 name normalization.
//! - [`DistributionKind`]: wheel or sdist.
//! - [`ReplayableBody`]: a request body that can be sent again, for the client layers that
//!   repeat requests (retries, a second attempt with a token), whatever the HTTP client.
//! - [`error_chain`], [`find_in_chain`] and [`describe_chain`]: an error's `source()` chain,
//!   walked in one place.
//! - [`inner_service_accessors!`]: `get_ref`, `get_mut` and `into_inner` for a middleware.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::StatusCode;
//! use http_body_util::{BodyExt, Empty};
//! use pyoci_core::{text_response, ResponseBody};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // A layer over a service whose body is `Empty<Bytes>` can still answer with a message.
//! let refused = text_response::<Empty<Bytes>>(StatusCode::BAD_REQUEST, "no such thing");
//! assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
//! assert_eq!(refused.headers()["content-type"], "text/plain; charset=utf-8");
//! let text = refused.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(text, "no such thing\n");
//!
//! // Or pass the inner body on as it is.
//! let passed: ResponseBody<Empty<Bytes>> = ResponseBody::inner(Empty::new());
//! assert!(passed.collect().await.unwrap().to_bytes().is_empty());
//! # }
//! ```
#![warn(missing_docs)]

mod accessors;
mod body;
mod credentials;
mod error_chain;
mod kind;
mod name;
mod replay;
mod text;

pub use body::ResponseBody;
pub use credentials::{Credentials, Secret};
pub use error_chain::{describe_chain, error_chain, find_in_chain};
pub use kind::DistributionKind;
pub use name::normalize_project_name;
pub use replay::ReplayableBody;
pub use text::{text_response, TEXT_PLAIN};
