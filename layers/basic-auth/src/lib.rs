//! Incoming `Authorization` header -> typed [`Credentials`] in the request extensions.
mod credentials;

pub use credentials::{Credentials, Secret};
