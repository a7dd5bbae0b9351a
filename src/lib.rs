//! PyOCI: any OCI registry as a private Python package index.
//!
//! The proxy is a stack of tower layers, each in its own crate under `layers/` and usable on
//! its own; [`pyoci_service`] assembles them (see `stack.rs`, which reads in the order a
//! request meets them) into one service that any hyper or tower app can mount, and
//! [`serve`] runs it as the `pyoci` server.

mod app;
mod body;
mod cache;
pub mod cli;
pub mod config;
mod connections;
pub mod credential_realms;
pub mod description;
mod error;
pub mod events;
pub mod fallback;
mod handlers;
pub mod healthcheck;
mod idle;
mod layout;
mod metrics_server;
pub mod mirror;
mod mount;
#[cfg(feature = "otel")]
pub mod otel;
pub mod package;
pub mod profile;
pub mod registry_list;
pub mod route;
mod server;
mod stack;
mod startup;
mod store;
mod tls;
mod turns;

pub use body::Body;
pub use config::Config;
pub use mount::{Mount, MountLayer, MountPrefix};
pub use server::serve;
pub use stack::{pyoci_service, pyoci_service_with_metrics, PyociService, SetupError};
