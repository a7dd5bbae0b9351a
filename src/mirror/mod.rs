//! The pull-through mirror (`PYOCI_MIRROR_INDEX`): public packages kept in the registry
//! PyOCI already uses, with a release-age cooldown. See docs/mirror.md.
//!
//! Which names: exactly the fallback's rule ([`crate::fallback`]). A project the registry
//! has in the caller's namespace is private and served from there only; names matching
//! `PYOCI_PRIVATE_NAMES` and any registry error never reach the public index. Only a name
//! the registry says it does not have is served from the mirror:
//!
//! - **pages** are built by PyOCI from the public index's JSON page (asked at most once per
//!   project per `PYOCI_MIRROR_PAGE_TTL`), with file URLs pointing at PyOCI, plus what of the
//!   project is already mirrored (`<PYOCI_MIRROR_NAMESPACE>/<project>`), read with the
//!   caller's own credentials: the registry decides who may read the mirror;
//! - **files** already mirrored are served from the registry like private ones; the first
//!   download of another is fetched from the public index (one fetch whatever the number of
//!   callers), checked against the public page's sha256 as the blob is committed, stored in
//!   PyOCI's layout with the mirror's own credentials (the only ones that write), then
//!   served from the registry;
//! - **the cooldown** ([`cooldown`]) hides public files younger than `PYOCI_MIRROR_MIN_AGE`;
//!   mirrored files stay installable.
//!
//! The public index never gets a caller's credentials: it is asked with none, by a client
//! that connects only to public addresses (unless private registries are allowed).

pub mod cooldown;
mod keep;
pub mod public;
mod releases;

pub use releases::MirroredReleases;

use std::sync::Arc;

use pyoci_basic_auth::Credentials;
use pyoci_metrics::Metrics;

use self::{cooldown::Cooldown, public::PublicIndexClient};
use crate::fallback::MirrorSettings;
use crate::{
    route::Target,
    store::{Repository, Store},
    turns::Turns,
};

/// The mirror of one process: its public index, where it keeps what it fetched, and with
/// which credentials it writes there.
pub struct Mirror {
    namespace: String,
    credentials: Credentials,
    public: PublicIndexClient,
    cooldown: Cooldown,
    /// One fetch per file at a time: concurrent first downloads wait for it.
    fetches: Turns<String>,
    metrics: Metrics,
}

impl Mirror {
    /// The mirror `settings` ask for, reading from `public`; `Ok(None)` when it is off, an
    /// error saying what is missing when it cannot work.
    pub fn new(
        settings: &MirrorSettings,
        public: PublicIndexClient,
        metrics: Metrics,
    ) -> Result<Mirror, String> {
        Ok(Mirror {
            namespace: settings.namespace()?.to_owned(),
            credentials: settings.credentials()?,
            public,
            cooldown: Cooldown::new(settings),
            fetches: Turns::default(),
            metrics,
        })
    }

    /// Where `repository`'s project is kept in the mirror, as its caller sees it.
    pub(crate) fn mirrored(
        &self,
        store: &Arc<Store>,
        target: &Target,
        repository: &Repository,
    ) -> Repository {
        let credentials = repository.oci().credentials().clone();
        store.repository(&self.target(target), repository.name().clone(), credentials)
    }

    /// The same repository, as the mirror writes it.
    pub(crate) fn writable(
        &self,
        store: &Arc<Store>,
        target: &Target,
        repository: &Repository,
    ) -> Repository {
        store.repository(
            &self.target(target),
            repository.name().clone(),
            self.credentials.clone(),
        )
    }

    fn target(&self, target: &Target) -> Target {
        Target {
            namespace: self.namespace.clone(),
            ..target.clone()
        }
    }
}
