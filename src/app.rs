//! What every handler shares: the settings, the store beneath the handlers, and the
//! renderer of descriptions. Built once, in `stack.rs`.

use std::sync::Arc;

use pyoci_budget::Budgets;

use crate::{
    cache::Caches,
    config::Config,
    description::Descriptions,
    mirror::Mirror,
    store::{RegistryService, Store},
};

/// Shared state of the handlers.
pub struct App {
    pub config: Config,
    /// Projects' repositories: reads through the caches, safe writes, registry rules.
    pub store: Arc<Store>,
    /// Descriptions rendered for the pages for people, once each, off the async workers.
    pub descriptions: Descriptions,
    /// The pull-through mirror of a public index (`PYOCI_MIRROR_INDEX`), when on.
    pub mirror: Option<Arc<Mirror>>,
}

impl App {
    /// `caches` are the ones `registry` tells of refusals ([`Caches::for_config`]), and
    /// `budgets` the ones it enforces.
    pub fn new(
        config: Config,
        registry: RegistryService,
        budgets: Budgets,
        caches: Arc<Caches>,
    ) -> Self {
        App {
            store: Arc::new(Store::new(&config, registry, budgets, caches)),
            descriptions: Descriptions::new(config.description_max_bytes),
            mirror: None,
            config,
        }
    }

    /// With `mirror` serving the projects the registry does not have.
    pub fn with_mirror(mut self, mirror: Option<Mirror>) -> Self {
        self.mirror = mirror.map(Arc::new);
        self
    }
}
