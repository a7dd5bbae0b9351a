use http::{Method, Uri};

/// `scheme://authority` of a request URI, lowercased: tokens are only ever reused on the origin
/// they were issued for.
pub(crate) fn origin_of(uri: &Uri) -> String {
    let scheme = uri.scheme_str().unwrap_or_default();
    let authority = uri
        .authority()
        .map(|authority| authority.as_str())
        .unwrap_or_default();
    format!("{scheme}://{authority}").to_ascii_lowercase()
}

/// The access a request needs, in the registry's scope syntax where it has one, so that
/// requests needing the same token share a cache entry (`repository:ns/pkg:pull`).
///
/// This is only a cache key: the scope sent to the token service is the one from the challenge.
pub(crate) fn access_key(method: &Method, path: &str) -> String {
    if path == "/v2/_catalog" {
        return "registry:catalog:*".to_owned();
    }
    let Some(name) = repository_name(path) else {
        return path.to_owned();
    };
    let action = match *method {
        Method::GET | Method::HEAD => "pull",
        Method::DELETE => "delete",
        _ => "push",
    };
    format!("repository:{name}:{action}")
}

/// The repository name in `/v2/<name>/(blobs|manifests|tags)/...`. Names have several segments
/// and may contain `blobs` or `tags` themselves, so the route is matched from the end.
pub(crate) fn repository_name(path: &str) -> Option<String> {
    let segments: Vec<&str> = path.strip_prefix("/v2/")?.split('/').collect();
    let count = segments.len();
    let is = |index: Option<usize>, word: &str| {
        index.and_then(|index| segments.get(index)) == Some(&word)
    };
    let third_last = count.checked_sub(3);
    let second_last = count.checked_sub(2);
    let name_end = if is(third_last, "blobs") && is(second_last, "uploads") {
        third_last
    } else if ["blobs", "manifests", "tags"]
        .iter()
        .any(|word| is(second_last, word))
    {
        second_last
    } else {
        None
    }?;
    let name = segments.get(..name_end)?.join("/");
    (!name.is_empty()).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origin_is_scheme_and_authority() {
        let uri: Uri = "https://GHCR.io:443/v2/a/b/manifests/1?x=y"
            .parse()
            .unwrap();
        assert_eq!(origin_of(&uri), "https://ghcr.io:443");
        let uri: Uri = "http://127.0.0.1:5000/v2/".parse().unwrap();
        assert_eq!(origin_of(&uri), "http://127.0.0.1:5000");
    }

    #[test]
    fn repository_routes() {
        let cases = [
            (
                Method::GET,
                "/v2/ns/pkg/manifests/1.0.0",
                "repository:ns/pkg:pull",
            ),
            (
                Method::HEAD,
                "/v2/pkg/blobs/sha256:ab",
                "repository:pkg:pull",
            ),
            (Method::GET, "/v2/a/b/c/tags/list", "repository:a/b/c:pull"),
            (
                Method::PUT,
                "/v2/ns/pkg/manifests/1.0.0",
                "repository:ns/pkg:push",
            ),
            (
                Method::POST,
                "/v2/ns/pkg/blobs/uploads/",
                "repository:ns/pkg:push",
            ),
            (
                Method::PATCH,
                "/v2/ns/pkg/blobs/uploads/uuid-1",
                "repository:ns/pkg:push",
            ),
            (
                Method::PUT,
                "/v2/ns/pkg/blobs/uploads",
                "repository:ns/pkg:push",
            ),
            (
                Method::DELETE,
                "/v2/ns/pkg/manifests/sha256:ab",
                "repository:ns/pkg:delete",
            ),
            // Names may contain the route words themselves.
            (
                Method::GET,
                "/v2/ns/tags/blobs/sha256:ab",
                "repository:ns/tags:pull",
            ),
            (
                Method::GET,
                "/v2/ns/blobs/manifests/latest",
                "repository:ns/blobs:pull",
            ),
            (
                Method::POST,
                "/v2/ns/blobs/blobs/uploads/",
                "repository:ns/blobs:push",
            ),
        ];
        for (method, path, expected) in cases {
            assert_eq!(access_key(&method, path), expected, "{method} {path}");
        }
    }

    #[test]
    fn catalog_and_other_paths() {
        assert_eq!(
            access_key(&Method::GET, "/v2/_catalog"),
            "registry:catalog:*"
        );
        assert_eq!(access_key(&Method::GET, "/v2/"), "/v2/");
        assert_eq!(access_key(&Method::GET, "/v2/blobs/x"), "/v2/blobs/x");
        assert_eq!(
            access_key(&Method::GET, "/other/pkg/blobs/x"),
            "/other/pkg/blobs/x"
        );
        assert_eq!(access_key(&Method::GET, ""), "");
    }
}
