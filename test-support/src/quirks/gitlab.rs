//! GitLab's container registry (`registry.gitlab.com`).

use super::{Quirks, Realm, TokenFields};

impl Quirks {
    /// GitLab.com:
    /// - The realm is `https://gitlab.com/jwt/auth`, another host than `registry.gitlab.com`.
    /// - `artifactType` and `config.mediaType` are checked against an allow-list of known media
    ///   types; others are refused with `400 MANIFEST_INVALID` "unknown media type"
    ///   (fluxcd/flux2#3724, cue-lang/cue#2817, ocx-sh/ocx#480; the list is seeded in GitLab's
    ///   database, moby/buildkit#3610).
    pub fn gitlab() -> Quirks {
        Quirks {
            name: "GitLab",
            realm: Realm::OtherHost("/jwt/auth"),
            token_fields: TokenFields::Both,
            known_media_types_only: true,
            ..Quirks::default()
        }
    }
}
