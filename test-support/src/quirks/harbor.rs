//! Harbor.

use super::{MissingRepository, Quirks, Realm};

impl Quirks {
    /// Harbor:
    /// - Robot accounts are named `robot$<project>+<name>`, a `$` users must escape or
    ///   percent-encode (goharbor/harbor#7944, goharbor/harbor#8744, docker/login-action#893);
    ///   the test issuer gets such a user.
    /// - A project must exist before anything is pushed into it (goharbor/harbor#6892,
    ///   goharbor/harbor#20544); the push is refused at the upload `POST`.
    /// - The realm is `https://<harbor>/service/token`, on the registry's host.
    pub fn harbor() -> Quirks {
        Quirks {
            name: "Harbor",
            realm: Realm::SameHost("/service/token"),
            missing_repository: Some(MissingRepository::HarborProject),
            ..Quirks::default()
        }
    }
}
