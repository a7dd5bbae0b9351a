//! A registry behind a CDN that limits request bodies, and one whose tokens expire quickly.

use std::time::Duration;

use super::{Quirks, Realm};

impl Quirks {
    /// A CDN in front of the registry refuses request bodies over `limit` bytes with `413`
    /// (Cloudflare: 100 MB; cloudflare/serverless-registry#67, podman-container-tools/podman#24919,
    /// sameersbn/docker-gitlab#2819). Chunked uploads with `Content-Range` get through
    /// (bnema/gordon#58).
    pub fn cdn_body_limit(limit: u64) -> Quirks {
        Quirks {
            name: "CDN body limit",
            body_limit: Some(limit),
            ..Quirks::default()
        }
    }

    /// Tokens that stop working after `lifetime`, sooner than the `expires_in` their token
    /// service announced (tokens often last 5 minutes, shorter than a big upload; ghcr.io's
    /// signed URLs expire mid-download, containerd/stargz-snapshotter#167). The token service
    /// is served by the front (`/token` on its host) so it knows when each token was issued.
    pub fn short_tokens(lifetime: Duration) -> Quirks {
        Quirks {
            name: "short-lived tokens",
            realm: Realm::SameHost("/token"),
            token_lifetime: Some(lifetime),
            ..Quirks::default()
        }
    }
}
