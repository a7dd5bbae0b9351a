//! The repository-level model beneath the handlers: what a project's repository holds and
//! how it changes, read through the listing caches and written safely against concurrent
//! writers. Handlers parse, authorize, call in here and render; they never speak to the
//! registry about a project's versions themselves.
//!
//! - [`Store`]: what every request shares (the outgoing registry stack, the caches, the
//!   write turns, what was learned of each registry); built once.
//! - [`Repository`]: one caller's handle on one project's repository, for one request.
//! - `reads`: versions and their indexes, through the caches; `resolve`: where a file's
//!   bytes are; `stored`: what an index entry says about a file.
//! - `write_window`: changing a version's index without losing concurrent changes;
//!   `upload`: sending an uploaded file's bytes; `publish`: making it visible; `delete`:
//!   files and versions; `listing_document`: the per-project copy of every version's
//!   index, read by listings and kept by writers.
//! - `registry_rules`: how each registry must be written to (media types, chunked uploads).

mod delete;
mod listing;
mod listing_document;
mod listing_trust;
mod publish;
mod reads;
mod registry_rules;
mod repository;
mod resolve;
mod shared;
mod stored;
#[cfg(test)]
pub(crate) mod tests;
mod upload;
mod write_window;

pub use publish::NewFile;
pub use repository::Repository;
pub use resolve::Resolver;
pub use shared::{RegistryService, Store};
pub use stored::{Release, StoredFile};
pub use upload::checked_core_metadata;
pub use write_window::{EditOutcome, IndexEdit};
