use std::future::Future;

use http::header::LINK;
use http::{HeaderMap, Method};
use serde::Deserialize;

use crate::client::RegistryHttp;
use crate::error::{check, read_body};
use crate::names::normalize_repository;
use crate::{OciClient, OciError};

/// Registries that paginate send a page of a few hundred tags; more pages than this means a
/// registry that keeps sending `next` links.
const MAX_PAGES: usize = 1000;
/// Bound on one page of the tag list.
const PAGE_LIMIT: usize = 8 * 1024 * 1024;

/// One page of `tags/list` (`{"tags": [...]}`) or `_catalog` (`{"repositories": [...]}`).
#[derive(Deserialize)]
struct ListPage {
    #[serde(default, alias = "repositories")]
    tags: Option<Vec<String>>,
}

impl<S: RegistryHttp> OciClient<S> {
    /// Lists every tag of `repository`, following `Link: <...>; rel="next"` pagination.
    ///
    /// The tags come in the registry's order (unsorted on some registries): sort them yourself.
    pub fn list_tags(
        &self,
        repository: &str,
    ) -> impl Future<Output = Result<Vec<String>, OciError>> + Send + 'static {
        let client = self.clone();
        let repository = normalize_repository(repository);
        async move {
            let repository = repository?;
            let path = format!("/v2/{repository}/tags/list");
            client
                .paginated_list(path, format!("repository {repository}"))
                .await
        }
    }

    /// Lists every repository the registry's `_catalog` shows this user, following `Link`
    /// pagination. Many hosted registries refuse the catalog (404, 401 or 403).
    pub fn catalog(&self) -> impl Future<Output = Result<Vec<String>, OciError>> + Send + 'static {
        let client = self.clone();
        async move {
            client
                .paginated_list("/v2/_catalog".to_owned(), "the registry catalog".to_owned())
                .await
        }
    }

    fn paginated_list(
        &self,
        path: String,
        what: String,
    ) -> impl Future<Output = Result<Vec<String>, OciError>> + Send + 'static {
        let client = self.clone();
        async move {
            let mut target = client.registry.target(&path)?;
            let mut items = Vec::new();
            for _ in 0..MAX_PAGES {
                let response = client
                    .send(
                        Method::GET,
                        &target,
                        HeaderMap::new(),
                        reqwest::Body::default(),
                    )
                    .await?;
                let response = check(&Method::GET, response, &what).await?;
                let next = next_link(response.headers()).map(str::to_owned);
                let body = read_body(response.into_body(), PAGE_LIMIT, "list").await?;
                let page: ListPage = serde_json::from_slice(&body).map_err(|error| {
                    OciError::InvalidResponse(format!(
                        "the list of {what} is not valid JSON: {error}"
                    ))
                })?;
                items.extend(page.tags.unwrap_or_default());
                match next {
                    Some(link) => target = client.registry.resolve(&link)?,
                    None => return Ok(items),
                }
            }
            Err(OciError::InvalidResponse(format!(
                "the list of {what} did not end after {MAX_PAGES} pages"
            )))
        }
    }
}

/// The `rel="next"` target among all `Link` headers, if any.
fn next_link(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(LINK)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(parse_next_link)
}

/// Parses one `Link` header value (RFC 8288) and returns the URL of the link whose `rel`
/// includes `next`: `<url>; rel="next"`, possibly among other comma-separated links.
pub fn parse_next_link(value: &str) -> Option<&str> {
    let mut rest = value;
    loop {
        let (_, after_open) = rest.split_once('<')?;
        let (url, after_close) = after_open.split_once('>')?;
        // In `<a<b>` only `<b>` is a URL reference: a URL never holds `<`.
        let url = url.rsplit('<').next().unwrap_or(url);
        let (params, next_links) = match after_close.split_once('<') {
            Some((params, next_links)) => (params, next_links),
            None => (after_close, ""),
        };
        // Up to the next `<`, the parameters end with the `,` that separates the links.
        let params = params.trim_end().trim_end_matches(',');
        if params.split(';').any(is_rel_next) {
            return Some(url.trim());
        }
        if next_links.is_empty() {
            return None;
        }
        // Put back the `<` consumed by `split_once` so the loop finds the next link.
        rest = after_close.get(params.len()..).unwrap_or_default();
    }
}

fn is_rel_next(param: &str) -> bool {
    let Some((name, value)) = param.split_once('=') else {
        return false;
    };
    name.trim().eq_ignore_ascii_case("rel")
        && value
            .trim()
            .trim_matches('"')
            .split_ascii_whitespace()
            .any(|rel| rel.eq_ignore_ascii_case("next"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_next_before_other_links() {
        // Found by the `link_header` fuzz target.
        assert_eq!(
            parse_next_link(r#"</a>; rel="next", </b>; rel="prev""#),
            Some("/a")
        );
        assert_eq!(
            parse_next_link("</a>; rel=next, </b>; rel=prev"),
            Some("/a")
        );
        assert_eq!(
            parse_next_link("<->; title=page; rel=NEXT, <>; rel=next"),
            Some("-")
        );
        assert_eq!(
            parse_next_link(r#"</b>; rel="prev", </a>; rel="next""#),
            Some("/a")
        );
        assert_eq!(parse_next_link(r#"<x<y>; rel="next""#), Some("y"));
    }

    use super::*;
    use crate::test_util::{alice, requests, respond, stub_client};
    use pyoci_core::Credentials;

    #[tokio::test]
    async fn follows_relative_and_absolute_next_links() {
        let (client, log) = stub_client(|request| match request.uri.as_str() {
            "https://registry.test/v2/acme/hello/tags/list" => respond(
                200,
                &[(
                    "link",
                    r#"</v2/acme/hello/tags/list?n=2&last=b>; rel="next""#,
                )],
                r#"{"name":"acme/hello","tags":["a","b"]}"#,
            ),
            "https://registry.test/v2/acme/hello/tags/list?n=2&last=b" => respond(
                200,
                &[(
                    "link",
                    r#"<https://registry.test/v2/acme/hello/tags/list?n=2&last=d>; rel="next""#,
                )],
                r#"{"name":"acme/hello","tags":["c","d"]}"#,
            ),
            "https://registry.test/v2/acme/hello/tags/list?n=2&last=d" => {
                respond(200, &[], r#"{"name":"acme/hello","tags":["e"]}"#)
            }
            other => respond(500, &[], other),
        });
        let tags = client.list_tags("ACME/Hello").await.unwrap();
        assert_eq!(tags, ["a", "b", "c", "d", "e"]);
        let seen = requests(&log);
        assert_eq!(seen.len(), 3);
        for request in &seen {
            assert_eq!(request.method, Method::GET);
            assert_eq!(request.credentials, Some(alice()));
            assert!(request.headers.get("authorization").is_none());
        }
    }

    #[tokio::test]
    async fn null_or_missing_tags_mean_none() {
        for body in [r#"{"name":"a","tags":null}"#, r#"{"name":"a"}"#] {
            let (client, _) = stub_client(move |_| respond(200, &[], body));
            assert!(client.list_tags("a").await.unwrap().is_empty(), "{body}");
        }
    }

    #[tokio::test]
    async fn a_link_to_another_host_goes_without_credentials() {
        let (client, log) = stub_client(|request| {
            if request.uri.starts_with("https://registry.test/") {
                respond(
                    200,
                    &[("link", r#"<https://elsewhere.test/page2>; rel="next""#)],
                    r#"{"tags":["a"]}"#,
                )
            } else {
                respond(200, &[], r#"{"tags":["b"]}"#)
            }
        });
        assert_eq!(client.list_tags("a").await.unwrap(), ["a", "b"]);
        let seen = requests(&log);
        assert_eq!(seen[0].credentials, Some(alice()));
        assert_eq!(seen[1].uri, "https://elsewhere.test/page2");
        assert_eq!(seen[1].credentials, Some(Credentials::Anonymous));
    }

    #[tokio::test]
    async fn endless_pagination_is_cut_off() {
        let (client, log) = stub_client(|_| {
            respond(
                200,
                &[("link", r#"</v2/a/tags/list?again>; rel="next""#)],
                r#"{"tags":[]}"#,
            )
        });
        let error = client.list_tags("a").await.unwrap_err();
        assert!(matches!(error, OciError::InvalidResponse(_)), "{error:?}");
        assert_eq!(requests(&log).len(), MAX_PAGES);
    }

    #[tokio::test]
    async fn bad_json_and_bad_names_are_errors() {
        let (client, log) = stub_client(|_| respond(200, &[], "<html>"));
        assert!(matches!(
            client.list_tags("a").await,
            Err(OciError::InvalidResponse(_))
        ));
        assert!(matches!(
            client.list_tags("a/../b").await,
            Err(OciError::InvalidInput(_))
        ));
        assert_eq!(requests(&log).len(), 1, "an invalid name is never sent");
    }

    #[test]
    fn parses_next_links() {
        let cases = [
            (
                r#"</v2/a/tags/list?n=2&last=b>; rel="next""#,
                Some("/v2/a/tags/list?n=2&last=b"),
            ),
            (
                "<https://r.example/v2/a/tags/list?last=b>;rel=next",
                Some("https://r.example/v2/a/tags/list?last=b"),
            ),
            (
                r#"</first>; rel="prev", </second>; rel="next""#,
                Some("/second"),
            ),
            (r#"</x>; rel="prev next""#, Some("/x")),
            (r#"</x>; title="a", </y>; rel="last""#, None),
            (r#"</x>; rel="prev""#, None),
            ("garbage", None),
            ("<unterminated; rel=next", None),
            ("", None),
        ];
        for (value, expected) in cases {
            assert_eq!(parse_next_link(value), expected, "{value}");
        }
    }
}
