use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Request;
use pyoci_basic_auth::Credentials;
use tower::Service;

use crate::{Budgets, HeldPermit, RequestClass};

/// Response future of [`Budget`].
pub type ResponseFuture<R, E> = Pin<Box<dyn Future<Output = Result<R, E>> + Send + 'static>>;

/// Lets a request through once it holds a permit of its class's budget.
///
/// Created by [`BudgetLayer`](crate::BudgetLayer); see the [crate docs](crate).
#[derive(Clone, Debug)]
pub struct Budget<S> {
    inner: S,
    budgets: Budgets,
}

impl<S> Budget<S> {
    pub(crate) fn new(inner: S, budgets: Budgets) -> Self {
        Budget { inner, budgets }
    }
}

impl<S, B> Service<Request<B>> for Budget<S>
where
    S: Service<Request<B>> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Response, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The service that was polled ready sends the request; the clone stays for the next.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        if request.extensions().get::<HeldPermit>().is_some() {
            return Box::pin(ready.call(request));
        }
        let class = request
            .extensions()
            .get::<RequestClass>()
            .copied()
            .unwrap_or_default();
        let credentials = request
            .extensions()
            .get::<Credentials>()
            .cloned()
            .unwrap_or_default();
        let budgets = self.budgets.clone();
        Box::pin(async move {
            // Held until the response head arrives: for a streamed upload, until its whole
            // body has gone out.
            let _permit = budgets.acquire(class, &credentials).await;
            // `ready` was polled ready before this call, so it may be called now; services
            // whose readiness reserves something (none in PyOCI's stack) hold it meanwhile.
            ready.call(request).await
        })
    }
}
