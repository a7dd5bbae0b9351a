//! The registry's `config.yml`, rendered from typed settings.

use std::path::PathBuf;

/// The header each registry instance adds to every response, so a readiness probe can tell
/// its own registry from another process that won a race for the same port.
pub(crate) const INSTANCE_HEADER: &str = "X-Pyoci-Test-Instance";

/// How the registry authenticates clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AuthConfig {
    None,
    Htpasswd {
        path: PathBuf,
    },
    Token {
        realm: String,
        service: String,
        issuer: String,
        root_cert_bundle: PathBuf,
    },
}

/// Everything that differs between two registry instances.
#[derive(Clone, Debug)]
pub(crate) struct RegistryConfig {
    pub(crate) data_dir: PathBuf,
    pub(crate) port: u16,
    pub(crate) instance: String,
    pub(crate) auth: AuthConfig,
    /// Whether manifest and blob deletes are allowed (ghcr.io refuses them).
    pub(crate) deletes: bool,
    /// Where the registry sends its notifications of pushes and deletes, if anywhere.
    pub(crate) notify: Option<Notify>,
}

/// A notification endpoint: its URL (where `{registry}` stands for the registry's own
/// URL as one path segment, `http%3A%2F%2F127.0.0.1%3A<port>`) and the `Authorization`
/// header value sent with each notification.
#[derive(Clone, Debug)]
pub struct Notify {
    pub url: String,
    pub authorization: String,
}

/// A YAML double-quoted scalar: JSON string syntax is valid YAML.
fn quoted(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

fn quoted_path(path: &std::path::Path) -> String {
    quoted(&path.to_string_lossy())
}

impl RegistryConfig {
    /// The YAML the registry reads.
    pub(crate) fn render(&self) -> String {
        let mut yaml = format!(
            "version: 0.1\n\
             log:\n  level: warn\n\
             storage:\n  filesystem:\n    rootdirectory: {data}\n  delete:\n    enabled: {deletes}\n\
             http:\n  addr: {addr}\n  secret: {secret}\n  headers:\n    {INSTANCE_HEADER}: [{instance}]\n",
            data = quoted_path(&self.data_dir),
            addr = quoted(&format!("127.0.0.1:{}", self.port)),
            secret = quoted(&format!("pyoci-test-{}", self.instance)),
            instance = quoted(&self.instance),
            deletes = self.deletes,
        );
        if let Some(notify) = &self.notify {
            let own = format!("http://127.0.0.1:{}", self.port);
            let segment =
                percent_encoding::utf8_percent_encode(&own, super::PATH_SEGMENT).to_string();
            // Sent at once and retried soon: tests wait for them.
            yaml.push_str(&format!(
                "notifications:\n  endpoints:\n    - name: pyoci\n      url: {}\n      \
                 headers:\n        Authorization: [{}]\n      timeout: 2s\n      \
                 threshold: 3\n      backoff: 200ms\n",
                quoted(&notify.url.replace("{registry}", &segment)),
                quoted(&notify.authorization),
            ));
        }
        match &self.auth {
            AuthConfig::None => {}
            AuthConfig::Htpasswd { path } => {
                yaml.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: \"pyoci-test\"\n    path: {}\n",
                    quoted_path(path)
                ));
            }
            AuthConfig::Token {
                realm,
                service,
                issuer,
                root_cert_bundle,
            } => {
                yaml.push_str(&format!(
                    "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                    quoted(realm),
                    quoted(service),
                    quoted(issuer),
                    quoted_path(root_cert_bundle)
                ));
            }
        }
        yaml
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(auth: AuthConfig) -> RegistryConfig {
        RegistryConfig {
            data_dir: PathBuf::from("/tmp/x/data"),
            port: 5123,
            instance: "7-1".into(),
            auth,
            deletes: true,
            notify: None,
        }
    }

    #[test]
    fn no_auth_config_has_storage_deletes_and_address() {
        let yaml = config(AuthConfig::None).render();
        assert_eq!(
            yaml,
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: \"/tmp/x/data\"\n  delete:\n    enabled: true\nhttp:\n  addr: \"127.0.0.1:5123\"\n  secret: \"pyoci-test-7-1\"\n  headers:\n    X-Pyoci-Test-Instance: [\"7-1\"]\n"
        );
    }

    #[test]
    fn auth_sections() {
        let htpasswd = config(AuthConfig::Htpasswd {
            path: "/tmp/x/htpasswd".into(),
        })
        .render();
        assert!(htpasswd.ends_with(
            "auth:\n  htpasswd:\n    realm: \"pyoci-test\"\n    path: \"/tmp/x/htpasswd\"\n"
        ));
        let token = config(AuthConfig::Token {
            realm: "http://127.0.0.1:9/token".into(),
            service: "svc".into(),
            issuer: "iss".into(),
            root_cert_bundle: "/tmp/x/token.crt".into(),
        })
        .render();
        assert!(token.ends_with(
            "auth:\n  token:\n    realm: \"http://127.0.0.1:9/token\"\n    service: \"svc\"\n    issuer: \"iss\"\n    rootcertbundle: \"/tmp/x/token.crt\"\n"
        ));
    }

    #[test]
    fn quoting_escapes_yaml_specials() {
        assert_eq!(quoted("a\"b: c"), "\"a\\\"b: c\"");
    }
}
