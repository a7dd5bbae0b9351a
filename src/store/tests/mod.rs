//! The store in-process, against a registry in memory behind pyoci-oci's stub registry:
//! what reaches the registry for each store operation, request by request.

mod listing_document;
pub(crate) mod memory_registry;
mod publish;
mod write_window;

use std::sync::Arc;

use pyoci_budget::Budgets;
use pyoci_oci::{
    test_util::{alice, requests, stub_registry, stub_service, Log, Recorded},
    Descriptor, Digest, ImageIndex, Platform, OCI_MANIFEST_MEDIA_TYPE,
};
use tower::util::BoxCloneSyncService;

use self::memory_registry::MemoryRegistry;
use super::{RegistryService, Repository, Store};
use crate::{
    cache::Caches,
    config::Config,
    layout,
    package::{PackageVersion, ProjectName},
    route::Target,
};

/// The repository of project `hello` in namespace `acme`.
pub(crate) const REPO: &str = "acme/hello";

/// The store over `registry` as `config` sets it up, and the log of what reaches the
/// registry.
fn store(config: Config, registry: &MemoryRegistry) -> (Arc<Store>, Log) {
    let (service, budgets, caches, log) = outgoing(&config, registry);
    (Arc::new(Store::new(&config, service, budgets, caches)), log)
}

/// What `stack.rs` gives the store, over `registry` in place of the network: the registry
/// service, its budgets and caches, and the log of what reaches the registry.
pub(crate) fn outgoing(
    config: &Config,
    registry: &MemoryRegistry,
) -> (RegistryService, Budgets, Arc<Caches>, Log) {
    let memory = registry.clone();
    let (service, log) = stub_service(move |request| memory.answer(request));
    let budgets = Budgets::new(
        config.max_registry_requests,
        config.max_uploads,
        config.max_uploads_per_client,
    );
    let caches = Arc::new(Caches::for_config(config, None));
    (BoxCloneSyncService::new(service), budgets, caches, log)
}

/// Project `hello` in namespace `acme` of the stub registry, as alice sees it.
fn hello(store: &Arc<Store>) -> Repository {
    let target = Target {
        registry: stub_registry(),
        registry_segment: "registry.test".into(),
        namespace: "acme".into(),
        link_base: String::new(),
    };
    store.repository(&target, ProjectName::parse("hello").unwrap(), alice())
}

/// Settings without the settle re-check (a single process's writers take turns), so a
/// test sees only the requests it is about.
fn config() -> Config {
    Config {
        write_settle_ms: 0,
        ..Config::default()
    }
}

fn version(version: &str) -> PackageVersion {
    PackageVersion::parse(version).unwrap()
}

/// Each request as `METHOD path`, in order.
pub(crate) fn lines(log: &Log) -> Vec<String> {
    requests(log).iter().map(line).collect()
}

fn line(request: &Recorded) -> String {
    format!("{} {}", request.method, request.path())
}

/// A file's index entry: its manifest (named by `manifest`'s digest) and the sha256 of
/// its bytes (`bytes`).
pub(crate) fn file_entry(architecture: &str, bytes: &[u8]) -> Descriptor {
    let manifest = Digest::sha256_of(architecture.as_bytes());
    let mut entry = Descriptor::new(OCI_MANIFEST_MEDIA_TYPE, manifest, 300);
    entry.platform = Some(Platform::new(architecture, "any"));
    let sha256 = Digest::sha256_of(bytes).hex().to_owned();
    entry
        .annotations
        .insert(layout::SHA256_ANNOTATION.to_owned(), sha256);
    entry
}

/// A version's index holding `entries`, as PyOCI writes it.
pub(crate) fn index_of(entries: &[Descriptor]) -> ImageIndex {
    let mut index = layout::version_index(crate::profile::Profile::Pyoci);
    for entry in entries {
        layout::add_file(&mut index, entry.clone());
    }
    index
}

/// The files (architectures) an index lists, in order.
pub(crate) fn files_in(index: &ImageIndex) -> Vec<String> {
    index
        .manifests
        .iter()
        .filter_map(|entry| entry.platform.as_ref())
        .map(|platform| platform.architecture.clone())
        .collect()
}

/// The index a request wrote.
pub(crate) fn written_index(request: &Recorded) -> ImageIndex {
    serde_json::from_slice(&request.body).unwrap()
}
