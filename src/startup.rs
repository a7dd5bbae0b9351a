//! What PyOCI logs when it starts: its settings, without anything secret.

use crate::config::Config;

/// Logs one `info` line with the settings in force. Lists each setting by name on purpose
/// (not `Debug` of the whole config), so a secret added to the config later is not logged
/// by accident.
pub fn log_config_summary(config: &Config) {
    let registries = config
        .registry_allow_list()
        .map_or_else(|| "any".to_owned(), ToString::to_string);
    tracing::info!(
        target: "pyoci::config",
        version = env!("CARGO_PKG_VERSION"),
        host = %config.host,
        port = config.port,
        path_prefix = %config.prefix(),
        registries = %registries,
        allow_private_registries = config.allow_private_registries,
        bearer_username_set = config.bearer_username.is_some(),
        max_body = config.max_body,
        max_versions = config.max_versions,
        registry_timeout_secs = config.registry_timeout_secs,
        max_registry_requests = config.max_registry_requests,
        header_timeout_secs = config.header_timeout_secs,
        write_settle_ms = config.write_settle_ms,
        redirect_downloads = config.redirect_downloads,
        listing_document = config.listing_document,
        listing_check_secs = config.listing_check_secs,
        cache_ttl_secs = config.cache_ttl_secs,
        events_port = %config
            .events
            .events_port
            .map_or_else(|| "off".to_owned(), |port| port.to_string()),
        event_registries = %config
            .events
            .registries()
            .map_or_else(|| "none".to_owned(), ToString::to_string),
        event_cache_ttl_secs = config.events.event_cache_ttl_secs,
        metrics_port = %config
            .metrics_port
            .map_or_else(|| "off".to_owned(), |port| port.to_string()),
        log_format = match config.log_format {
            crate::config::LogFormat::Text => "text",
            crate::config::LogFormat::Json => "json",
        },
        tls = config.tls_cert.is_some(),
        "configuration"
    );
}
