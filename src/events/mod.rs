//! Registry change notifications keep the listing caches fresh (`PYOCI_EVENTS_PORT`).
//!
//! A registry that announces its pushes and deletes (the CNCF distribution registry's
//! notifications, GitHub's `registry_package` webhooks, Harbor's and ACR's webhooks, or a
//! CI job calling `/events/changed/<registry>`) posts them to a listener of its own,
//! authenticated with a shared secret ([`pyoci_events`]). Each names repositories; their
//! cached tags, pages, listing documents and acceptances are dropped at once.
//!
//! An event can only drop entries, never add any: a forged or replayed one costs a cache
//! miss. In exchange, what listings read of those registries (`PYOCI_EVENT_REGISTRIES`) is
//! kept for `PYOCI_EVENT_CACHE_TTL` instead of `PYOCI_CACHE_TTL`. Who may read stays
//! bounded as before: a caller's acceptance lasts `PYOCI_CACHE_TTL`, or as long as the
//! registry token PyOCI holds for them there (see docs/trust.md).

mod server;
mod settings;

pub(crate) use server::start;
pub use settings::{EventSettings, SecretText};
