//! Asking for a read's token before the registry asks for it.
//!
//! A registry answers a request without a usable token with `401` and a Bearer challenge
//! naming its token service and the scope wanted. The first request to each repository
//! would pay that round trip (and pip or uv resolving a tree of private packages meets a
//! new repository at every step). The token service and the scope syntax are the
//! registry's, not the repository's: once an origin has challenged a request, a read of
//! another repository there can ask the same token service for `repository:<name>:pull`
//! first, as docker and oras do. If the registry still answers 401, the token is dropped
//! and its own challenge is answered as before, so a guess costs one token request at most.

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, Uri};
use http_body::Body;
use pyoci_core::Credentials;
use tower::{BoxError, Service};

use crate::access::repository_name;
use crate::challenge::Challenge;
use crate::realm::{fetch_token, RealmAnswer};

/// The challenge to answer ahead of a plain read of `path`, from the origin's last one:
/// only reads of a repository's manifests, blobs or tags (a write's scope and a catalog's
/// are left to the registry to name).
pub(crate) fn challenge_ahead(last: &Challenge, method: &Method, path: &str) -> Option<Challenge> {
    if !matches!(*method, Method::GET | Method::HEAD) || path.contains("/blobs/uploads/") {
        return None;
    }
    let name = repository_name(path)?;
    Some(last.with_scope(format!("repository:{name}:pull")))
}

/// The token for `challenge`, or `None` when the token service gives none or fails (the
/// request then goes out as it would have).
pub(crate) async fn token_ahead<S, ReqBody, ResBody>(
    client: S,
    challenge: &Challenge,
    credentials_for: impl FnOnce(&Uri) -> Credentials,
) -> Option<(HeaderValue, std::time::Duration)>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    ReqBody: Default,
    ResBody: Body<Data = Bytes>,
    ResBody::Error: Into<BoxError>,
{
    match fetch_token(client, challenge, credentials_for).await {
        Ok(RealmAnswer::Token(token)) => Some((token.authorization, token.usable_for)),
        Ok(RealmAnswer::Rejected(_)) | Err(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::challenge::parse_challenges;

    fn last() -> Challenge {
        parse_challenges(
            r#"Bearer realm="https://auth.test/token",service="registry.test",scope="repository:ns/a:pull""#,
        )
        .unwrap()
        .remove(0)
    }

    #[test]
    fn reads_of_other_repositories_get_the_same_realm_with_their_own_scope() {
        let ahead = challenge_ahead(&last(), &Method::GET, "/v2/ns/b/manifests/1.0").unwrap();
        assert_eq!(ahead.realm(), Some("https://auth.test/token"));
        assert_eq!(ahead.service(), Some("registry.test"));
        assert_eq!(ahead.scope(), Some("repository:ns/b:pull"));
        let head = challenge_ahead(&last(), &Method::HEAD, "/v2/ns/deep/c/blobs/sha256:ab");
        assert_eq!(head.unwrap().scope(), Some("repository:ns/deep/c:pull"));
    }

    #[test]
    fn writes_uploads_and_the_catalog_are_left_to_the_registry() {
        for (method, path) in [
            (Method::PUT, "/v2/ns/b/manifests/1.0"),
            (Method::DELETE, "/v2/ns/b/manifests/1.0"),
            (Method::GET, "/v2/ns/b/blobs/uploads/abc"),
            (Method::GET, "/v2/_catalog"),
            (Method::GET, "/v2/"),
        ] {
            assert!(
                challenge_ahead(&last(), &method, path).is_none(),
                "{method} {path}"
            );
        }
    }
}
