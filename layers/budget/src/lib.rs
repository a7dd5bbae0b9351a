//! Request budgets for the outgoing registry stack, so that no kind of request and no one
//! client can take every slot.
//!
//! A single concurrency limit over all registry requests lets streamed uploads starve
//! everything else: an upload holds its slot for as long as its client takes to send the
//! file, and a client that sends half a file and stops holds it for good. [`BudgetLayer`]
//! keeps three separate budgets instead, one per [`RequestClass`]:
//!
//! - [`RequestClass::Ordinary`]: reads, small pushes, deletes, token fetches. Each is
//!   answered within the registry timeout, so a slot always comes free soon.
//! - [`RequestClass::IndexWrite`]: the read-modify-write cycle of a version's index. A
//!   writer takes its permit *before* it reads and keeps it until it has written, so the
//!   write never queues between the read and the write (which would widen the window in
//!   which another replica's write can be lost; see docs/concurrency.md).
//! - [`RequestClass::StreamedUpload`]: a blob `PATCH` whose body streams from the uploading
//!   client. Inside this budget each client (each distinct set of
//!   [`Credentials`](pyoci_core::Credentials), anonymous users counting as one) gets at
//!   most a fixed share, so one party cannot take the whole upload budget.
//!
//! Requests carry their class in their extensions (no extension means `Ordinary`). A
//! permit taken earlier with [`Budgets::acquire`] can ride along in a request's extensions
//! as a [`HeldPermit`]; the layer then lets the request through without taking another.
//!
//! A request waits for its permit; the permit is held until the response head arrives (a
//! streamed upload's answer comes once its whole body has been sent).
//!
//! # Example
//!
//! ```
//! use http::{Request, Response};
//! use pyoci_budget::{BudgetLayer, Budgets, RequestClass};
//! use tower::{service_fn, BoxError, ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), BoxError> {
//! let budgets = Budgets::new(256, 64, 8);
//! let registry = ServiceBuilder::new()
//!     .layer(BudgetLayer::new(budgets.clone()))
//!     .service(service_fn(|_: Request<()>| async { Ok::<_, BoxError>(Response::new(())) }));
//!
//! let mut upload = Request::new(());
//! upload.extensions_mut().insert(RequestClass::StreamedUpload);
//! registry.oneshot(upload).await?;
//! assert_eq!(budgets.in_use(RequestClass::StreamedUpload), 0, "released once answered");
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs)]

mod budgets;
mod layer;
mod service;

pub use budgets::{Budgets, HeldPermit, RequestClass};
pub use layer::BudgetLayer;
pub use service::{Budget, ResponseFuture};
