//! The repository-level model beneath the handlers: what a project's repository holds and
//! how it changes, read through the listing caches and written safely against concurrent
//! writers. Handlers parse, authorize, call in here and render; they never speak to the
//! registry about a project's versions themselves.

use http::{Request, Response};
use pyoci_oci::{OciClient, OciError};
use tower::{util::BoxCloneSyncService, BoxError};

use crate::{error::Error, fallback::FallbackSettings, fallback::Verdict};

/// The outgoing registry stack `stack.rs` assembles, boxed once: nothing above it names its
/// layers, and tests put a stub registry in its place.
pub type RegistryService =
    BoxCloneSyncService<Request<reqwest::Body>, Response<reqwest::Body>, BoxError>;

/// A registry client for one request, as one caller.
pub type Oci = OciClient<RegistryService>;

/// Asks the registry again whether it knows `repo`: `Ok(true)` only for a definite "no such
/// repository" ([`FallbackSettings::verdict`]); `Ok(false)` when it knows the repository or
/// answers 404 otherwise (the caller's own 404 stands); the registry's error for anything
/// else. Re-asking costs one request on this path only, and bases the decision on the
/// registry's own answer rather than on how a handler summarized an earlier one.
pub async fn registry_lacks(
    settings: &FallbackSettings,
    oci: &Oci,
    repo: &str,
) -> Result<bool, Error> {
    let listing = oci.list_tags(repo).await;
    match (settings.verdict(oci.registry(), &listing), listing) {
        (Verdict::Unknown, _) => Ok(true),
        (Verdict::Private, Ok(_) | Err(OciError::NotFound { .. })) => Ok(false),
        (Verdict::Private, Err(err)) => Err(Error::Registry(err)),
    }
}
