//! The event listener's settings, as flags and environment variables (flattened into
//! `Config`).

use std::{fmt, net::IpAddr, path::PathBuf, str::FromStr};

use clap::Args;

use crate::registry_list::RegistryList;

/// Where registries announce their changes, and what that lets PyOCI cache longer.
#[derive(Clone, Debug, Args)]
pub struct EventSettings {
    /// Port of a listener of its own for registry change notifications,
    /// `POST /events/<source>/<registry>` (docs/events.md); unset: none, and every cache
    /// keeps PYOCI_CACHE_TTL.
    #[arg(long, env = "PYOCI_EVENTS_PORT")]
    pub events_port: Option<u16>,

    /// Address of the event listener; default: the address of PYOCI_HOST.
    #[arg(long, env = "PYOCI_EVENTS_HOST")]
    pub events_host: Option<IpAddr>,

    /// Registries that send their change notifications to the event listener,
    /// comma-separated as in PYOCI_REGISTRIES: only their listings are kept for
    /// PYOCI_EVENT_CACHE_TTL, and only events about them are taken.
    #[arg(long, env = "PYOCI_EVENT_REGISTRIES", value_name = "REGISTRIES")]
    pub event_registries: Option<RegistryList>,

    /// The secret senders prove they know: as `Authorization: Bearer <secret>`, or as the
    /// key of GitHub's `X-Hub-Signature-256`. At least 16 bytes.
    #[arg(
        long,
        env = "PYOCI_EVENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET"
    )]
    pub event_secret: Option<SecretText>,

    /// A file holding PYOCI_EVENT_SECRET (surrounding whitespace ignored), instead of the
    /// variable.
    #[arg(long, env = "PYOCI_EVENT_SECRET_FILE", value_name = "PATH")]
    pub event_secret_file: Option<PathBuf>,

    /// Seconds what listings read of a registry with events is kept: its changes arrive as
    /// events, so this only bounds how long a lost event goes unseen. Whether a caller may
    /// read stays bounded by PYOCI_CACHE_TTL, or by the registry token held for them.
    #[arg(long, env = "PYOCI_EVENT_CACHE_TTL", default_value_t = 600)]
    pub event_cache_ttl_secs: u64,
}

impl Default for EventSettings {
    fn default() -> Self {
        EventSettings {
            events_port: None,
            events_host: None,
            event_registries: None,
            event_secret: None,
            event_secret_file: None,
            event_cache_ttl_secs: 600,
        }
    }
}

impl EventSettings {
    /// The registries whose events this process takes: `None` without an event listener,
    /// so nothing is kept longer where no event could drop it.
    pub fn registries(&self) -> Option<&RegistryList> {
        self.events_port?;
        self.event_registries
            .as_ref()
            .filter(|registries| !registries.is_empty())
    }

    /// The shared secret, from the variable or the file; an error says what is missing.
    pub fn secret(&self) -> Result<String, String> {
        let text = match (&self.event_secret, &self.event_secret_file) {
            (Some(_), Some(_)) => {
                return Err(
                    "set PYOCI_EVENT_SECRET or PYOCI_EVENT_SECRET_FILE, not both".to_owned(),
                )
            }
            (Some(secret), None) => secret.0.clone(),
            (None, Some(path)) => std::fs::read_to_string(path)
                .map_err(|err| {
                    format!(
                        "PYOCI_EVENT_SECRET_FILE: cannot read {}: {err}",
                        path.display()
                    )
                })?
                .trim()
                .to_owned(),
            (None, None) => {
                return Err(
                    "PYOCI_EVENTS_PORT is set but no secret: set PYOCI_EVENT_SECRET_FILE \
                     (or PYOCI_EVENT_SECRET) to a random string of at least 16 bytes, and give \
                     it to the registry's notification settings"
                        .to_owned(),
                )
            }
        };
        if text.len() < 16 {
            return Err(
                "the event secret is shorter than 16 bytes: use a long random string".to_owned(),
            );
        }
        Ok(text)
    }
}

/// A secret given on the command line or in the environment: never shown by `Debug`.
#[derive(Clone)]
pub struct SecretText(String);

impl FromStr for SecretText {
    type Err = std::convert::Infallible;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(SecretText(text.trim().to_owned()))
    }
}

impl fmt::Debug for SecretText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretText(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longer_caching_needs_a_listener_and_the_secret_is_never_shown() {
        let mut settings = EventSettings {
            event_registries: Some("ghcr.io".parse().unwrap()),
            event_secret: Some("a-secret-of-twenty-bytes".parse().unwrap()),
            ..EventSettings::default()
        };
        assert!(
            settings.registries().is_none(),
            "no listener, no event can arrive"
        );
        settings.events_port = Some(0);
        assert_eq!(
            settings.registries().unwrap().to_string(),
            "https://ghcr.io"
        );
        assert_eq!(settings.secret().unwrap(), "a-secret-of-twenty-bytes");
        assert!(!format!("{settings:?}").contains("twenty"));
        settings.event_secret = Some("short".parse().unwrap());
        assert!(settings.secret().unwrap_err().contains("16 bytes"));
        settings.event_secret = None;
        assert!(settings
            .secret()
            .unwrap_err()
            .contains("PYOCI_EVENT_SECRET_FILE"));
    }
}
