//! Keeps the multipart parser from reading ahead of the handler.
//!
//! `multer` pulls every chunk its input has ready into its own buffer each time it is
//! polled. When the client sends faster than the handler forwards the file (a fast client,
//! a slow registry), that buffer grows with the file. [`Paced`] hands out one chunk per
//! poll and then reports `Pending` (waking itself at once), so the parser takes a chunk,
//! hands it on, and only then takes the next: memory stays bounded by a few chunks.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use futures_util::Stream;
use pin_project::pin_project;

/// A stream that yields at most one item per poll of its consumer.
#[pin_project]
pub(crate) struct Paced<S> {
    #[pin]
    inner: S,
    /// An item was just handed out; the next poll pauses once.
    just_yielded: bool,
}

impl<S> Paced<S> {
    pub(crate) fn new(inner: S) -> Self {
        Paced {
            inner,
            just_yielded: false,
        }
    }
}

impl<S: Stream> Stream for Paced<S> {
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        if std::mem::take(this.just_yielded) {
            // Ends the parser's read loop; the wake makes sure it comes back.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let item = futures_util::ready!(this.inner.poll_next(cx));
        *this.just_yielded = item.is_some();
        Poll::Ready(item)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{stream, StreamExt};

    use super::*;

    #[test]
    fn yields_one_item_then_pauses() {
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut paced = Paced::new(stream::iter([1, 2]));
        assert_eq!(paced.poll_next_unpin(&mut cx), Poll::Ready(Some(1)));
        assert_eq!(paced.poll_next_unpin(&mut cx), Poll::Pending);
        assert_eq!(paced.poll_next_unpin(&mut cx), Poll::Ready(Some(2)));
        assert_eq!(paced.poll_next_unpin(&mut cx), Poll::Pending);
        assert_eq!(paced.poll_next_unpin(&mut cx), Poll::Ready(None));
    }

    #[tokio::test]
    async fn loses_nothing() {
        let items: Vec<u32> = Paced::new(stream::iter(0..1000)).collect().await;
        assert_eq!(items, (0..1000).collect::<Vec<_>>());
    }
}
