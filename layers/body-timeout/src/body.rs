use std::{
    future::Future,
    pin::Pin,
    task::{ready, Context, Poll},
    time::Duration,
};

use http_body::{Body, Frame, SizeHint};
use pin_project::pin_project;
use tokio::time::{Instant, Sleep};
use tower::BoxError;

use crate::IdleTimeout;

/// A body that fails with [`IdleTimeout`] when its reader has waited longer than `idle` for
/// the next frame. Frames pass through unchanged; errors of the inner body are boxed.
#[pin_project]
#[derive(Debug)]
pub struct IdleTimeoutBody<B> {
    #[pin]
    inner: B,
    idle: Duration,
    /// Created on the first wait (so a body never read needs no timer). Boxed so the body
    /// is `Unpin` whenever the inner body is.
    timer: Option<Pin<Box<Sleep>>>,
    /// When the current wait began; `None` while frames keep coming.
    waiting_since: Option<Instant>,
    /// Set once the timeout fired: the body stays failed.
    timed_out: bool,
}

impl<B> IdleTimeoutBody<B> {
    /// Wraps `inner`; reading fails once it has delivered nothing for `idle`.
    pub fn new(inner: B, idle: Duration) -> Self {
        IdleTimeoutBody {
            inner,
            idle,
            timer: None,
            waiting_since: None,
            timed_out: false,
        }
    }

    /// The idle time allowed between frames.
    pub fn idle(&self) -> Duration {
        self.idle
    }
}

impl<B> Body for IdleTimeoutBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let idle = *this.idle;
        if *this.timed_out {
            return Poll::Ready(Some(Err(Box::new(IdleTimeout { idle }))));
        }
        // What the body has is delivered before the clock is looked at, so a reader that
        // comes back late still gets data that arrived in time.
        if let Poll::Ready(frame) = this.inner.poll_frame(cx) {
            *this.waiting_since = None;
            return Poll::Ready(frame.map(|result| result.map_err(Into::into)));
        }
        // A large body waits once per chunk: resetting the timer each time would cost a
        // trip to the timer wheel per chunk. The wait's start is noted instead (a cheap
        // clock read), and a timer armed for an earlier wait is left to fire; it is only
        // moved, at most once per idle period, when it fires before this wait is over.
        let since = *this.waiting_since.get_or_insert_with(Instant::now);
        let deadline = since + idle;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        loop {
            ready!(timer.as_mut().poll(cx));
            if Instant::now() >= deadline {
                *this.timed_out = true;
                return Poll::Ready(Some(Err(Box::new(IdleTimeout { idle }))));
            }
            timer.as_mut().reset(deadline);
        }
    }

    fn is_end_stream(&self) -> bool {
        !self.timed_out && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use futures_util::{stream, StreamExt};
    use http_body_util::{BodyExt, Empty, Full, StreamBody};

    use super::*;
    use crate::is_idle_timeout;

    type Chunk = Result<Frame<Bytes>, BoxError>;

    fn data(text: &'static str) -> Chunk {
        Ok(Frame::data(Bytes::from(text)))
    }

    /// Chunks that arrive `gap` apart.
    fn paced(chunks: Vec<Chunk>, gap: Duration) -> impl Body<Data = Bytes, Error = BoxError> {
        StreamBody::new(stream::iter(chunks).then(move |chunk| async move {
            tokio::time::sleep(gap).await;
            chunk
        }))
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_keeps_moving_is_read_whole() {
        let chunks = (0..10).map(|_| data("a")).collect();
        let body = IdleTimeoutBody::new(
            paced(chunks, Duration::from_secs(9)),
            Duration::from_secs(10),
        );
        let read = body.collect().await.unwrap().to_bytes();
        assert_eq!(
            read,
            Bytes::from("aaaaaaaaaa"),
            "90 s in all, never 10 s idle"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_body_that_stops_fails_after_the_idle_time() {
        let moving = stream::iter([data("first")]);
        let stalled = StreamBody::new(moving.chain(stream::pending()));
        let mut body = IdleTimeoutBody::new(stalled, Duration::from_secs(10));
        let started = Instant::now();
        let first = body.frame().await.unwrap().unwrap();
        assert_eq!(first.into_data().unwrap(), Bytes::from("first"));
        let error = body.frame().await.unwrap().unwrap_err();
        assert!(is_idle_timeout(error.as_ref()), "{error}");
        assert_eq!(started.elapsed(), Duration::from_secs(10));
        assert_eq!(error.to_string(), "no data arrived for 10 s");
        // It stays failed rather than looking finished.
        assert!(body.frame().await.unwrap().is_err());
        assert!(!body.is_end_stream());
    }

    #[tokio::test(start_paused = true)]
    async fn data_waiting_for_a_late_reader_is_delivered() {
        let body = IdleTimeoutBody::new(
            StreamBody::new(stream::iter([data("ready")])),
            Duration::from_secs(1),
        );
        // The reader comes back long after: the data was there all along.
        tokio::time::sleep(Duration::from_secs(60)).await;
        let read = body.collect().await.unwrap().to_bytes();
        assert_eq!(read, Bytes::from("ready"));
    }

    /// The reader asked once and found nothing (the clock started), then was busy past the
    /// idle time; the frame came within it and waited. The body was never idle that long,
    /// so the frame is delivered. (tower-http's `TimeoutBody` looks at its timer before the
    /// body and fails here.)
    #[tokio::test(start_paused = true)]
    async fn data_that_came_in_time_is_delivered_to_a_reader_back_late() {
        let (sender, mut receiver) = tokio::sync::mpsc::channel::<Chunk>(1);
        let arriving = StreamBody::new(stream::poll_fn(move |cx| receiver.poll_recv(cx)));
        let mut body = IdleTimeoutBody::new(arriving, Duration::from_secs(1));
        let asked = std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut body).poll_frame(cx)));
        assert!(asked.await.is_pending());
        tokio::time::sleep(Duration::from_millis(500)).await;
        sender.send(data("in time")).await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), Bytes::from("in time"));
    }

    /// hyper and reqwest read these to send a `Content-Length` or to end an HTTP/2 stream
    /// with its headers; tower-http's `TimeoutBody` reports an unknown size and no end.
    #[test]
    fn the_inner_size_and_end_are_kept() {
        let idle = Duration::from_secs(1);
        let full = IdleTimeoutBody::new(Full::new(Bytes::from("abc")), idle);
        assert_eq!(full.size_hint().exact(), Some(3));
        assert!(IdleTimeoutBody::new(Empty::<Bytes>::new(), idle).is_end_stream());
    }

    #[tokio::test(start_paused = true)]
    async fn errors_of_the_inner_body_pass_through() {
        let failing = StreamBody::new(stream::iter([Err::<Frame<Bytes>, BoxError>(
            "connection reset".into(),
        )]));
        let error = IdleTimeoutBody::new(failing, Duration::from_secs(1))
            .collect()
            .await
            .unwrap_err();
        assert_eq!(error.to_string(), "connection reset");
        assert!(!is_idle_timeout(error.as_ref()));
    }
}
