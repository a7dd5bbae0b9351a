//! Docker Hub (`registry-1.docker.io`).

use super::{Quirks, Realm, TokenFields};

impl Quirks {
    /// Docker Hub:
    /// - The realm is `https://auth.docker.io/token`, another host than the registry
    ///   `registry-1.docker.io` (docs.docker.com/registry/spec/auth/token/, "How to
    ///   authenticate"); emulated here by another loopback address.
    /// - The token answer carries both `token` and `access_token` (the same spec: "For
    ///   compatibility with OAuth 2.0, we will also accept token under the name
    ///   access_token"; aquasecurity/testdocker's `TokenResponse`).
    /// - Pulls are rate-limited: `429 Too Many Requests` with `TOOMANYREQUESTS` ("You have
    ///   reached your pull rate limit") and `Retry-After`
    ///   (https://docs.docker.com/docker-hub/usage/pulls/, docker/docs#20788).
    pub fn docker_hub() -> Quirks {
        Quirks {
            name: "Docker Hub",
            realm: Realm::OtherHost("/token"),
            token_fields: TokenFields::Both,
            rate_limit_every: Some(4),
            ..Quirks::default()
        }
    }
}
