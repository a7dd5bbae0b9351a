//! A registry behind a CDN that limits request bodies, and one whose tokens expire quickly.

use std::time::Duration;

use super::Quirks;

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

    /// Tokens that stop working after `lifetime` (Docker's token spec suggests 5 minutes,
    /// shorter than a big upload; containerd/stargz-snapshotter#167 saw signed URLs expire
    /// the same way).
    pub fn short_tokens(lifetime: Duration) -> Quirks {
        Quirks {
            name: "short-lived tokens",
            token_lifetime: Some(lifetime),
            ..Quirks::default()
        }
    }
}
