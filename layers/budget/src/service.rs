use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Request;
use pyoci_core::Credentials;
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
    /// Wraps `inner`; its requests take permits of `budgets` (shared with every clone).
    pub fn new(inner: S, budgets: Budgets) -> Self {
        Budget { inner, budgets }
    }

    /// The layer that wraps services in this middleware, as in tower-http.
    pub fn layer(budgets: Budgets) -> crate::BudgetLayer {
        crate::BudgetLayer::new(budgets)
    }

    pyoci_core::inner_service_accessors!();
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::Response;
    use tower::{service_fn, BoxError, ServiceExt};

    use super::*;

    fn budget_over_a_stub(
        budgets: &Budgets,
    ) -> Budget<
        impl Service<Request<()>, Response = Response<()>, Error = BoxError, Future: Send>
            + Clone
            + Send
            + 'static,
    > {
        Budget::new(
            service_fn(|_: Request<()>| async { Ok::<_, BoxError>(Response::new(())) }),
            budgets.clone(),
        )
    }

    fn request(class: Option<RequestClass>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(class) = class {
            request.extensions_mut().insert(class);
        }
        request
    }

    async fn answered<F: std::future::Future>(future: F) -> bool {
        tokio::time::timeout(Duration::from_millis(50), future)
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn requests_wait_for_a_slot_of_their_own_class() {
        let budgets = Budgets::new(1, 1, 1);
        let service = budget_over_a_stub(&budgets);
        let anonymous = Credentials::Anonymous;
        let _read = budgets.acquire(RequestClass::Ordinary, &anonymous).await;
        let _upload = budgets
            .acquire(RequestClass::StreamedUpload, &anonymous)
            .await;
        assert!(!answered(service.clone().oneshot(request(None))).await);
        assert!(
            !answered(
                service
                    .clone()
                    .oneshot(request(Some(RequestClass::StreamedUpload)))
            )
            .await
        );
        assert!(
            answered(
                service
                    .clone()
                    .oneshot(request(Some(RequestClass::IndexWrite)))
            )
            .await
        );
        assert_eq!(
            budgets.in_use(RequestClass::IndexWrite),
            0,
            "released once answered"
        );
    }

    #[tokio::test]
    async fn a_held_permit_rides_along_without_taking_another() {
        let budgets = Budgets::new(1, 1, 1);
        let service = budget_over_a_stub(&budgets);
        let held = budgets
            .acquire(RequestClass::IndexWrite, &Credentials::Anonymous)
            .await;
        for _ in 0..2 {
            let mut write = request(Some(RequestClass::IndexWrite));
            write.extensions_mut().insert(held.clone());
            assert!(answered(service.clone().oneshot(write)).await);
        }
        assert_eq!(budgets.in_use(RequestClass::IndexWrite), 1);
        drop(held);
        assert_eq!(budgets.in_use(RequestClass::IndexWrite), 0);
    }
}
