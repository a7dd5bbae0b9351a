//! Keeps the multipart parser from reading ahead of the handler.
//!
//! `multer` pulls every chunk its input has ready into its own buffer each time it is
//! polled. When the client sends faster than the handler forwards the file (a fast client,
//! a slow registry), that buffer grows with the file. [`Paced`] hands out chunks until
//! [`PACE_BYTES`] have gone since the last pause, then reports `Pending` once (waking
//! itself at once), so the parser hands on what it took before taking more: memory stays
//! bounded by `PACE_BYTES` and a chunk. Pausing after every chunk would bound it too, but
//! costs a task wake-up per chunk, a measurable share of an upload's CPU time.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use futures_util::Stream;
use pin_project::pin_project;

/// Bytes handed to the parser between two pauses.
pub(crate) const PACE_BYTES: usize = 256 * 1024;

/// A stream of chunks that pauses once after every [`PACE_BYTES`] it yields.
#[pin_project]
pub(crate) struct Paced<S> {
    #[pin]
    inner: S,
    /// Bytes handed out since the last pause.
    since_pause: usize,
}

impl<S> Paced<S> {
    pub(crate) fn new(inner: S) -> Self {
        Paced {
            inner,
            since_pause: 0,
        }
    }
}

impl<S, E> Stream for Paced<S>
where
    S: Stream<Item = Result<Bytes, E>>,
{
    type Item = S::Item;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = self.project();
        if *this.since_pause >= PACE_BYTES {
            *this.since_pause = 0;
            // Ends the parser's read loop; the wake makes sure it comes back.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let item = futures_util::ready!(this.inner.poll_next(cx));
        if let Some(Ok(chunk)) = &item {
            // An empty chunk counts as one byte, so a stream of them still pauses.
            *this.since_pause += chunk.len().max(1);
        }
        Poll::Ready(item)
    }
}

#[cfg(test)]
mod tests {
    use futures_util::{stream, StreamExt};

    use super::*;

    type Chunk = Result<Bytes, std::convert::Infallible>;

    fn chunk(len: usize) -> Chunk {
        Ok(Bytes::from(vec![7u8; len]))
    }

    #[test]
    fn pauses_once_after_every_pace_of_bytes() {
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let quarter = PACE_BYTES / 4;
        let mut paced = Paced::new(stream::iter((0..6).map(|_| chunk(quarter))));
        let mut pauses = 0;
        let mut items = 0;
        loop {
            match paced.poll_next_unpin(&mut cx) {
                Poll::Pending => pauses += 1,
                Poll::Ready(Some(_)) => items += 1,
                Poll::Ready(None) => break,
            }
        }
        assert_eq!(
            (items, pauses),
            (6, 1),
            "one pause after the first four quarters"
        );
    }

    #[test]
    fn a_large_chunk_is_followed_by_a_pause() {
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut paced = Paced::new(stream::iter([chunk(PACE_BYTES), chunk(1)]));
        assert!(matches!(
            paced.poll_next_unpin(&mut cx),
            Poll::Ready(Some(_))
        ));
        assert!(paced.poll_next_unpin(&mut cx).is_pending());
        assert!(matches!(
            paced.poll_next_unpin(&mut cx),
            Poll::Ready(Some(_))
        ));
        assert!(matches!(paced.poll_next_unpin(&mut cx), Poll::Ready(None)));
    }

    #[tokio::test]
    async fn loses_nothing() {
        let chunks: Vec<Chunk> = (0..1000).map(|i| chunk(i * 7)).collect();
        let expected: usize = (0..1000).map(|i| i * 7).sum();
        let items: Vec<Chunk> = Paced::new(stream::iter(chunks)).collect().await;
        let got: usize = items.iter().map(|c| c.as_ref().map_or(0, Bytes::len)).sum();
        assert_eq!((items.len(), got), (1000, expected));
    }
}
