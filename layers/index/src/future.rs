//! The response future of [`RenderIndex`](crate::RenderIndex): renders the model once the
//! inner service has answered.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::header::{CONTENT_LENGTH, CONTENT_TYPE, ETAG, VARY};
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use pin_project::pin_project;
use pyoci_core::ResponseBody;

use crate::{
    etag::{entity_tag, matches_any},
    negotiate, render_list_html, render_list_json, render_project_html, render_project_json,
    shared::Rendered,
    IndexFormat, ProjectList, ProjectPage, SharedPage,
};

/// Resolves to the inner response, with an index model in its extensions rendered.
#[pin_project]
pub struct ResponseFuture<F> {
    #[pin]
    inner: F,
    accept: Option<HeaderValue>,
    /// The request's `If-None-Match` lines, joined.
    if_none_match: Option<HeaderValue>,
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(
        inner: F,
        accept: Option<HeaderValue>,
        if_none_match: Option<HeaderValue>,
    ) -> Self {
        Self {
            inner,
            accept,
            if_none_match,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = ready!(this.inner.poll(cx))?;
        Poll::Ready(Ok(render(
            response,
            this.accept.as_ref(),
            this.if_none_match.as_ref(),
        )))
    }
}

enum Model {
    Page(ProjectPage),
    Shared(SharedPage),
    List(ProjectList),
}

fn render<B>(
    mut response: Response<B>,
    accept: Option<&HeaderValue>,
    if_none_match: Option<&HeaderValue>,
) -> Response<ResponseBody<B>> {
    let extensions = response.extensions_mut();
    let page = extensions.remove::<ProjectPage>();
    let shared = extensions.remove::<SharedPage>();
    let list = extensions.remove::<ProjectList>();
    let model = match (page, shared, list) {
        (Some(page), _, _) => Model::Page(page),
        (None, Some(shared), _) => Model::Shared(shared),
        (None, None, Some(list)) => Model::List(list),
        (None, None, None) => return response.map(ResponseBody::inner),
    };
    let (mut parts, _empty) = response.into_parts();
    parts.headers.remove(CONTENT_LENGTH);
    add_vary_accept(&mut parts.headers);
    let format = match negotiate(accept) {
        Ok(format) => format,
        Err(not_acceptable) => {
            parts.status = StatusCode::NOT_ACCEPTABLE;
            parts.headers.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
            return Response::from_parts(parts, ResponseBody::text(not_acceptable.to_string()));
        }
    };
    let Rendered { body, etag } = match &model {
        Model::Shared(shared) => shared.rendered(format, |page| rendered(page, format)),
        Model::Page(page) => rendered(page, format),
        Model::List(list) => {
            let body = match format {
                IndexFormat::Json => render_list_json(list),
                IndexFormat::Html | IndexFormat::LegacyHtml => render_list_html(list),
            };
            let etag = entity_tag(format.content_type(), &body);
            Rendered { body, etag }
        }
    };
    if parts.status == StatusCode::OK {
        // A strong validator of exactly these bytes in this format: a client holding them
        // revalidates for the price of a comparison, and gets 304 without a body.
        let unchanged = if_none_match.is_some_and(|values| matches_any(values, &etag));
        parts.headers.insert(ETAG, etag);
        if unchanged {
            parts.status = StatusCode::NOT_MODIFIED;
            return Response::from_parts(parts, ResponseBody::text(String::new()));
        }
    }
    parts.headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static(format.content_type()),
    );
    Response::from_parts(parts, ResponseBody::text(body))
}

/// A project page in `format`, with its entity tag.
fn rendered(page: &ProjectPage, format: IndexFormat) -> Rendered {
    let body = match format {
        IndexFormat::Json => render_project_json(page),
        IndexFormat::Html | IndexFormat::LegacyHtml => render_project_html(page),
    };
    let etag = entity_tag(format.content_type(), &body);
    Rendered { body, etag }
}

/// Adds `Accept` to `Vary` unless it is already there (or `Vary: *` covers it).
fn add_vary_accept(headers: &mut HeaderMap) {
    let already_varies = headers
        .get_all(VARY)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|name| {
            let name = name.trim();
            name == "*" || name.eq_ignore_ascii_case("accept")
        });
    if !already_varies {
        headers.append(VARY, HeaderValue::from_static("Accept"));
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use bytes::Bytes;
    use http::header::ACCEPT;
    use http::Request;
    use http_body_util::{BodyExt, Empty};
    use tower::{service_fn, Layer, ServiceExt};

    use crate::{DistributionFile, RenderIndexLayer};

    use super::*;

    const PIP: &str = "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, text/html; q=0.01";

    fn page() -> ProjectPage {
        ProjectPage::new(
            "demo",
            vec![DistributionFile::new("demo-1.0.tar.gz", "demo-1.0.tar.gz").with_sha256("ab")],
        )
    }

    /// Calls the layer over a handler that answers with `response`.
    async fn call(accept: Option<&str>, response: Response<String>) -> Response<String> {
        let service = RenderIndexLayer::new().layer(service_fn(move |_: Request<()>| {
            let response = response.clone_parts_and_body();
            async move { Ok::<_, Infallible>(response) }
        }));
        let mut request = Request::get("/demo/");
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        let response = service.oneshot(request.body(()).unwrap()).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        Response::from_parts(parts, String::from_utf8(bytes.to_vec()).unwrap())
    }

    /// The inner body need not be made from a `String`: the layer writes its own.
    #[tokio::test]
    async fn renders_over_any_inner_body() {
        let service = RenderIndexLayer::new().layer(service_fn(|_: Request<()>| async {
            let mut response = Response::new(Empty::<Bytes>::new());
            response.extensions_mut().insert(page());
            Ok::<_, Infallible>(response)
        }));
        let response = service.oneshot(Request::new(())).await.unwrap();
        let html = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(html, render_project_html(&page()));
    }

    trait CloneResponse {
        fn clone_parts_and_body(&self) -> Self;
    }

    impl CloneResponse for Response<String> {
        fn clone_parts_and_body(&self) -> Self {
            let mut clone = Response::new(self.body().clone());
            *clone.status_mut() = self.status();
            *clone.headers_mut() = self.headers().clone();
            *clone.extensions_mut() = self.extensions().clone();
            clone
        }
    }

    fn with_model<T: Clone + Send + Sync + 'static>(model: T) -> Response<String> {
        let mut response = Response::new(String::new());
        response.extensions_mut().insert(model);
        response
    }

    #[tokio::test]
    async fn renders_a_project_page_as_json_for_pip() {
        let response = call(Some(PIP), with_model(page())).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "application/vnd.pypi.simple.v1+json"
        );
        assert_eq!(response.headers()[VARY], "Accept");
        assert_eq!(response.body(), &render_project_json(&page()));
        assert!(response.extensions().get::<ProjectPage>().is_none());
    }

    #[tokio::test]
    async fn renders_text_html_without_accept() {
        let response = call(None, with_model(page())).await;
        assert_eq!(response.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(response.headers()[VARY], "Accept");
        assert!(response
            .body()
            .contains("<a href=\"demo-1.0.tar.gz#sha256=ab\">demo-1.0.tar.gz</a>"));
    }

    #[tokio::test]
    async fn renders_v1_html_when_asked() {
        let response = call(
            Some("application/vnd.pypi.simple.v1+html"),
            with_model(page()),
        )
        .await;
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "application/vnd.pypi.simple.v1+html"
        );
        assert_eq!(response.body(), &render_project_html(&page()));
    }

    #[tokio::test]
    async fn renders_the_project_list() {
        let list = ProjectList::new(vec!["demo".to_owned()]);
        let response = call(Some(PIP), with_model(list.clone())).await;
        assert_eq!(response.body(), &render_list_json(&list));
        let response = call(Some("text/html"), with_model(list.clone())).await;
        assert_eq!(response.body(), &render_list_html(&list));
    }

    #[tokio::test]
    async fn nothing_acceptable_is_a_406_listing_the_types() {
        let response = call(Some("application/json"), with_model(page())).await;
        assert_eq!(response.status(), StatusCode::NOT_ACCEPTABLE);
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        assert_eq!(response.headers()[VARY], "Accept");
        for media_type in [
            "application/vnd.pypi.simple.v1+json",
            "application/vnd.pypi.simple.v1+html",
            "text/html",
        ] {
            assert!(response.body().contains(media_type), "{}", response.body());
        }
    }

    #[tokio::test]
    async fn responses_without_a_model_pass_untouched() {
        let mut original = Response::new("wheel bytes".to_owned());
        *original.status_mut() = StatusCode::PARTIAL_CONTENT;
        original.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        original
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from_static("11"));
        let response = call(Some("application/json"), original).await;
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
        assert_eq!(response.headers()[CONTENT_TYPE], "application/octet-stream");
        assert_eq!(response.headers()[CONTENT_LENGTH], "11");
        assert!(response.headers().get(VARY).is_none());
        assert_eq!(response.body(), "wheel bytes");
    }

    #[tokio::test]
    async fn keeps_handler_headers_and_drops_a_stale_length() {
        let mut original = with_model(page());
        original
            .headers_mut()
            .insert("cache-control", HeaderValue::from_static("max-age=600"));
        original
            .headers_mut()
            .insert(CONTENT_LENGTH, HeaderValue::from_static("0"));
        original
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        let response = call(Some(PIP), original).await;
        assert_eq!(response.headers()["cache-control"], "max-age=600");
        assert!(response.headers().get(CONTENT_LENGTH).is_none());
        assert_eq!(response.headers().get_all(CONTENT_TYPE).iter().count(), 1);
        assert_eq!(
            response.headers()[CONTENT_TYPE],
            "application/vnd.pypi.simple.v1+json"
        );
    }

    #[tokio::test]
    async fn vary_is_extended_not_duplicated() {
        let mut original = with_model(page());
        original
            .headers_mut()
            .insert(VARY, HeaderValue::from_static("Accept-Encoding"));
        let response = call(None, original).await;
        let vary: Vec<_> = response.headers().get_all(VARY).iter().collect();
        assert_eq!(vary, ["Accept-Encoding", "Accept"]);

        let mut original = with_model(page());
        original
            .headers_mut()
            .insert(VARY, HeaderValue::from_static("Authorization, accept"));
        let response = call(None, original).await;
        let vary: Vec<_> = response.headers().get_all(VARY).iter().collect();
        assert_eq!(vary, ["Authorization, accept"]);
    }

    /// Calls the layer with `If-None-Match: if_none_match`.
    async fn call_if_none_match(
        if_none_match: &str,
        response: Response<String>,
    ) -> Response<String> {
        let service = RenderIndexLayer::new().layer(service_fn(move |_: Request<()>| {
            let response = response.clone_parts_and_body();
            async move { Ok::<_, Infallible>(response) }
        }));
        let request = Request::get("/demo/")
            .header(ACCEPT, PIP)
            .header(http::header::IF_NONE_MATCH, if_none_match);
        let response = service.oneshot(request.body(()).unwrap()).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        Response::from_parts(parts, String::from_utf8(bytes.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn pages_get_a_strong_etag_and_a_matching_if_none_match_a_304() {
        let first = call(Some(PIP), with_model(page())).await;
        let etag = first.headers()[ETAG].to_str().unwrap().to_owned();
        assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        // The same page renders to the same tag; the other format to another.
        let again = call(Some(PIP), with_model(page())).await;
        assert_eq!(again.headers()[ETAG], etag.as_str());
        let html = call(None, with_model(page())).await;
        assert_ne!(html.headers()[ETAG], etag.as_str());

        for matching in [
            etag.clone(),
            format!("W/{etag}"),
            format!("\"x\", {etag}"),
            "*".into(),
        ] {
            let response = call_if_none_match(&matching, with_model(page())).await;
            assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{matching}");
            assert_eq!(response.body(), "");
            assert_eq!(response.headers()[ETAG], etag.as_str());
            assert_eq!(response.headers()[VARY], "Accept");
        }
        let other = call_if_none_match("\"stale\"", with_model(page())).await;
        assert_eq!(other.status(), StatusCode::OK);
        assert!(!other.body().is_empty());
    }

    #[tokio::test]
    async fn garbage_accept_does_not_break_the_layer() {
        let response = call(Some(";;;,,q=="), with_model(page())).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    }
}
