//! GitHub Container Registry (ghcr.io).

use super::{Quirks, Realm, TokenFields};

impl Quirks {
    /// ghcr.io as reported publicly:
    /// - The realm is `https://ghcr.io/token`, on the registry's own host, and public packages
    ///   get anonymous tokens (`curl https://ghcr.io/token?scope=repository:ORG/PKG:pull`,
    ///   containerd/stargz-snapshotter#167); its answer carries `token`.
    /// - `DELETE` answers `405 UNSUPPORTED` ("The operation is unsupported."); versions are
    ///   deleted through GitHub's REST API instead (podman-container-tools/skopeo#1880,
    ///   okxlin/docker-mirror-monitor#13).
    /// - Blob `GET`s answer `307` to a storage host with a short-lived signed URL
    ///   (containerd/stargz-snapshotter#167: `github-production-container-registry.s3.amazonaws.com`).
    /// - Tag lists are paginated (`n`/`last` with `Link: <...>; rel="next"`; werf/werf#3654,
    ///   werf/werf#3671), 100 tags a page by default.
    pub fn ghcr() -> Quirks {
        Quirks {
            name: "ghcr.io",
            realm: Realm::SameHost("/token"),
            token_fields: TokenFields::TokenOnly,
            refuse_deletes: true,
            redirect_blobs: true,
            tag_page_size: Some(100),
            ..Quirks::default()
        }
    }
}
