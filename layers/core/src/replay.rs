//! Which request bodies can be sent a second time.
//!
//! A client layer that repeats a request (after a transient fault, or with a token after a
//! `401`) needs a second copy of the body. A body in memory can give one; a streamed body
//! (an upload read from the client as it arrives) cannot, and such a request is sent once.

use bytes::Bytes;
use http_body::Body;
use http_body_util::{Empty, Full};

/// A request body that can give a copy of itself to send again.
///
/// Implemented for the buffered bodies of the usual clients: [`Full<Bytes>`],
/// [`Empty<Bytes>`], [`String`], and `reqwest::Body` with the `reqwest` feature (a buffered
/// one, whose `as_bytes` is `Some`). Implement it for your own body type to use
/// the retrying layers with it; return `None` for a body that can only be read once.
pub trait ReplayableBody: Body + Sized {
    /// A body with the same content, unread; `None` when this one is streamed.
    fn try_clone(&self) -> Option<Self>;

    /// Whether [`try_clone`](ReplayableBody::try_clone) gives a copy, without making one.
    fn is_replayable(&self) -> bool {
        self.try_clone().is_some()
    }
}

impl ReplayableBody for Full<Bytes> {
    fn try_clone(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl ReplayableBody for Empty<Bytes> {
    fn try_clone(&self) -> Option<Self> {
        Some(Empty::new())
    }
}

impl ReplayableBody for String {
    fn try_clone(&self) -> Option<Self> {
        Some(self.clone())
    }
}

#[cfg(feature = "reqwest")]
impl ReplayableBody for reqwest::Body {
    fn try_clone(&self) -> Option<Self> {
        self.as_bytes()
            .map(|bytes| reqwest::Body::from(Bytes::copy_from_slice(bytes)))
    }

    fn is_replayable(&self) -> bool {
        self.as_bytes().is_some()
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt;

    use super::*;

    async fn text<B: Body<Data = Bytes>>(body: B) -> Bytes
    where
        B::Error: std::fmt::Debug,
    {
        body.collect().await.unwrap().to_bytes()
    }

    #[tokio::test]
    async fn buffered_bodies_give_an_unread_copy() {
        let full = Full::new(Bytes::from_static(b"{}"));
        let copy = full.try_clone().unwrap();
        assert_eq!(text(full).await, "{}");
        assert_eq!(text(copy).await, "{}");
        assert!(Empty::<Bytes>::new().is_replayable());
        assert_eq!(text(String::from("a").try_clone().unwrap()).await, "a");
    }

    #[cfg(feature = "reqwest")]
    #[tokio::test]
    async fn only_a_buffered_reqwest_body_is_replayable() {
        let buffered = reqwest::Body::from("x");
        assert!(buffered.is_replayable());
        assert_eq!(text(buffered.try_clone().unwrap()).await, "x");
        let streamed = reqwest::Body::wrap(Full::new(Bytes::from_static(b"x")));
        assert!(!streamed.is_replayable());
        assert!(streamed.try_clone().is_none());
    }
}
