//! HTTPS without a reverse proxy: `PYOCI_TLS_CERT` and `PYOCI_TLS_KEY` (PEM files) make
//! PyOCI speak TLS (rustls, with the `ring` provider reqwest already brings) and offer
//! HTTP/2 by ALPN, falling back to HTTP/1.1.
//!
//! The files are read at start (PyOCI does not start with unusable ones) and watched: when
//! either changes, the pair is read again and new connections get it, so short-lived
//! certificates (ACME, cert-manager) are renewed without a restart. A pair that fails to
//! load (half-written, key not matching the certificate) is logged and the previous one
//! kept until the files change again.

mod connection;
mod reload;

use std::{path::PathBuf, sync::Arc, time::Duration};

use tokio_rustls::{
    rustls::{self, ServerConfig},
    TlsAcceptor,
};
use tower::BoxError;

pub use connection::TlsServer;
use reload::ReloadingCert;

/// How often the certificate and key files are checked for changes.
const RELOAD_CHECK: Duration = Duration::from_secs(1);

/// The TLS side of the listener: an acceptor whose certificate follows the files.
#[derive(Clone)]
pub struct Tls {
    pub(crate) acceptor: TlsAcceptor,
}

impl Tls {
    /// Loads `cert` and `key` and starts watching them; `None` when TLS is not configured.
    pub fn from_files(
        cert: Option<&PathBuf>,
        key: Option<&PathBuf>,
    ) -> Result<Option<Tls>, BoxError> {
        let (cert, key) = match (cert, key) {
            (None, None) => return Ok(None),
            (Some(cert), Some(key)) => (cert.clone(), key.clone()),
            _ => {
                return Err(
                    "set both PYOCI_TLS_CERT and PYOCI_TLS_KEY for HTTPS, or neither".into(),
                )
            }
        };
        let provider = crypto_provider();
        let certs = Arc::new(ReloadingCert::load(cert, key, provider.clone())?);
        certs.clone().watch(RELOAD_CHECK);
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(certs);
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Some(Tls {
            acceptor: TlsAcceptor::from(Arc::new(config)),
        }))
    }
}

/// The crypto provider the application installed as the process default, if any (aws-lc-rs,
/// with post-quantum key exchange, say); else *ring*, which reqwest brings already: a second
/// crypto library would slow every build. rustls 0.23.48 deprecates *ring*'s provider for
/// lacking post-quantum algorithms; that is the trade, made here once.
fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    if let Some(installed) = rustls::crypto::CryptoProvider::get_default() {
        return installed.clone();
    }
    #[allow(deprecated)]
    Arc::new(rustls::crypto::ring::default_provider())
}
