//! A service that keeps a stream open from the request's arrival until its response body
//! has been sent (or dropped, when the client resets the stream).

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll},
};

use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use pin_project::pin_project;
use tower::Service;

use super::{OpenStreams, StreamGuard};

/// Wraps a connection's service, counting its requests in `streams`.
#[derive(Clone)]
pub struct CountStreams<S> {
    inner: S,
    streams: OpenStreams,
}

impl<S> CountStreams<S> {
    pub fn new(inner: S, streams: OpenStreams) -> Self {
        CountStreams { inner, streams }
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for CountStreams<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = Response<CountedBody<ResBody>>;
    type Error = S::Error;
    type Future = CountedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let guard = self.streams.open();
        CountedFuture {
            inner: self.inner.call(request),
            guard: Some(guard),
        }
    }
}

/// The response on its way, its stream open; the stream moves into the body.
#[pin_project]
pub struct CountedFuture<F> {
    #[pin]
    inner: F,
    guard: Option<StreamGuard>,
}

impl<F, B, E> Future for CountedFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<CountedBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = std::task::ready!(this.inner.poll(cx))?;
        let guard = this.guard.take();
        Poll::Ready(Ok(response.map(|body| CountedBody {
            inner: body,
            _guard: guard,
        })))
    }
}

/// A response body that keeps its stream open until it is sent or dropped.
#[pin_project]
pub struct CountedBody<B> {
    #[pin]
    inner: B,
    _guard: Option<StreamGuard>,
}

impl<B: Body> Body for CountedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        self.project().inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::{convert::Infallible, time::Duration};

    use bytes::Bytes;
    use http_body_util::{BodyExt, StreamBody};
    use tokio::sync::mpsc;
    use tower::{service_fn, ServiceExt};

    use super::*;

    const LIMIT: Duration = Duration::from_secs(10);

    /// A service whose response body is fed, frame by frame, through the returned sender.
    fn streaming() -> (
        impl Service<
            Request<()>,
            Response = Response<impl Body<Data = Bytes, Error = Infallible>>,
            Error = Infallible,
        >,
        mpsc::Sender<Bytes>,
    ) {
        let (send, receive) = mpsc::channel::<Bytes>(4);
        let receive = std::sync::Mutex::new(Some(receive));
        let service = service_fn(move |_request: Request<()>| {
            let receive = receive.lock().ok().and_then(|mut receive| receive.take());
            async move {
                let frames = futures_util::stream::unfold(receive, |receive| async move {
                    let mut receive = receive?;
                    let data = receive.recv().await?;
                    Some((Ok::<_, Infallible>(Frame::data(data)), Some(receive)))
                });
                Ok::<_, Infallible>(Response::new(StreamBody::new(frames)))
            }
        });
        (service, send)
    }

    #[tokio::test(start_paused = true)]
    async fn a_response_body_still_being_sent_keeps_its_stream_open() {
        let streams = OpenStreams::new();
        let (service, send) = streaming();
        let service = CountStreams::new(service, streams.clone());
        let idle = tokio::spawn(streams.idle_for(LIMIT));

        let response = service.oneshot(Request::new(())).await.unwrap();
        let mut body = Box::pin(response.into_body());
        send.send(Bytes::from_static(b"first")).await.unwrap();
        let frame = body.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "first");
        tokio::time::sleep(LIMIT * 3).await;
        assert!(!idle.is_finished(), "idle with a response body unfinished");

        drop(send);
        assert!(body.frame().await.is_none());
        let ended = tokio::time::Instant::now();
        drop(body);
        idle.await.unwrap();
        assert_eq!(ended.elapsed(), LIMIT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_not_yet_answered_keeps_its_stream_open() {
        let streams = OpenStreams::new();
        let service = service_fn(|_request: Request<()>| async {
            tokio::time::sleep(LIMIT * 3).await;
            Ok::<_, Infallible>(Response::new(String::new()))
        });
        let service = CountStreams::new(service, streams.clone());
        let idle = tokio::spawn(streams.idle_for(LIMIT));
        let response = service.oneshot(Request::new(())).await.unwrap();
        assert!(!idle.is_finished(), "idle while a request was handled");
        let answered = tokio::time::Instant::now();
        drop(response);
        idle.await.unwrap();
        assert_eq!(answered.elapsed(), LIMIT);
    }
}
