//! What a quirk front does differently from the registry behind it: one plain struct, filled
//! in by each hosted registry's profile (one file per registry, each quirk cited there).

use std::time::Duration;

/// Where the registry's token service (the realm of its `401` challenge) appears to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Realm {
    /// The token issuer's own address, as the distribution registry names it.
    Issuer,
    /// A path on the registry's own host (ghcr.io: `/token`; ACR: `/oauth2/token`).
    SameHost(&'static str),
    /// A path on another host (Docker Hub: `auth.docker.io/token`; GitLab.com:
    /// `gitlab.com/jwt/auth`), emulated by another loopback address.
    OtherHost(&'static str),
}

/// The token fields the token service answers with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenFields {
    /// `token` and `access_token` (Docker Hub; what the test issuer sends).
    Both,
    /// Only `token` (ghcr.io).
    TokenOnly,
    /// Only `access_token` (ACR's `/oauth2/token`, an OAuth2 shape).
    AccessTokenOnly,
}

/// How a registry refuses pushes to a repository nobody created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MissingRepository {
    /// Every repository must be created first (ECR): `404 NAME_UNKNOWN`.
    Ecr,
    /// The repository's first path segment, the project, must exist (Harbor):
    /// `404 NOT_FOUND project ... not found`.
    HarborProject,
}

/// The quirks a front applies. [`Quirks::default`] applies none: a plain relay.
#[derive(Clone, Debug)]
pub struct Quirks {
    /// A name for messages (`ghcr.io`, `Docker Hub`...).
    pub name: &'static str,
    /// Where challenges send clients for tokens.
    pub realm: Realm,
    /// The fields of the token JSON.
    pub token_fields: TokenFields,
    /// `DELETE` of manifests and blobs answers `405 UNSUPPORTED`.
    pub refuse_deletes: bool,
    /// Blob `GET`s answer `307` to a storage host (another loopback address) with a signed URL.
    pub redirect_blobs: bool,
    /// Tag lists are served in pages of this many tags, sorted, with `Link: <...>; rel="next"`.
    pub tag_page_size: Option<usize>,
    /// Every this-many-th pull (`GET`/`HEAD` of a manifest or blob) answers `429` with
    /// `Retry-After: 1`.
    pub rate_limit_every: Option<usize>,
    /// Manifests whose `artifactType` or config media type is not a known image type are
    /// refused with `400 MANIFEST_INVALID` (GitLab's allow-list).
    pub known_media_types_only: bool,
    /// Index entries without `platform` are refused with `400 MANIFEST_INVALID` (Quay).
    pub index_entries_need_platform: bool,
    /// Pushes to repositories not created through [`super::QuirkRegistry::create_repository`]
    /// are refused at the upload `POST`.
    pub missing_repository: Option<MissingRepository>,
    /// `PATCH` answers `201 Created` instead of `202 Accepted` (ECR).
    pub patch_answers_201: bool,
    /// The body of every `PATCH` after the first of an upload session is dropped (ECR as
    /// reported in aws/containers-roadmap#2831).
    pub discard_later_patches: bool,
    /// Request bodies over this many bytes get `413` (a CDN in front of the registry).
    pub body_limit: Option<u64>,
    /// Sent as `OCI-Chunk-Min-Bytes` on the upload `POST`'s answer.
    pub chunk_min_bytes: Option<u64>,
    /// Tokens are refused (`401 invalid_token`) once they are older than this, however long
    /// the token service said they last.
    pub token_lifetime: Option<Duration>,
    /// Each `PATCH` is answered this much later: a long upload over a slow link, so tokens
    /// can expire during it.
    pub patch_delay: Option<Duration>,
}

impl Default for Quirks {
    fn default() -> Self {
        Quirks {
            name: "distribution",
            realm: Realm::Issuer,
            token_fields: TokenFields::Both,
            refuse_deletes: false,
            redirect_blobs: false,
            tag_page_size: None,
            rate_limit_every: None,
            known_media_types_only: false,
            index_entries_need_platform: false,
            missing_repository: None,
            patch_answers_201: false,
            discard_later_patches: false,
            body_limit: None,
            chunk_min_bytes: None,
            token_lifetime: None,
            patch_delay: None,
        }
    }
}
