//! Quay (quay.io, Red Hat Quay).

use super::{Quirks, Realm};

impl Quirks {
    /// Quay:
    /// - Every manifest-list / index entry needs `platform`: "'platform' is a required
    ///   property" (moby/buildkit#1440, moby/buildkit#1550).
    /// - Custom artifact and config media types are refused unless the server is configured
    ///   for them (moby/buildkit#3610: "quay.io is also filtering on the config media type").
    /// - The realm is `https://quay.io/v2/auth`, on the registry's host.
    pub fn quay() -> Quirks {
        Quirks {
            name: "Quay",
            realm: Realm::SameHost("/v2/auth"),
            known_media_types_only: true,
            index_entries_need_platform: true,
            ..Quirks::default()
        }
    }
}
