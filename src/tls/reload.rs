//! The certificate in use, read again from its files when they change.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::{Arc, RwLock},
    time::{Duration, SystemTime},
};

use tokio_rustls::rustls::{
    crypto::CryptoProvider,
    pki_types::{pem::PemObject, CertificateDer, PrivateKeyDer},
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};
use tower::BoxError;

/// What identifies a version of the files: modification time and length of each.
type Fingerprint = [(Option<SystemTime>, u64); 2];

/// Serves the last certificate and key that loaded; [`ReloadingCert::watch`] keeps it fresh.
pub(super) struct ReloadingCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl std::fmt::Debug for ReloadingCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadingCert")
            .field("cert_path", &self.cert_path)
            .field("key_path", &self.key_path)
            .finish_non_exhaustive()
    }
}

impl ReloadingCert {
    /// Reads the pair now; an error says which file is wrong and how.
    pub(super) fn load(
        cert_path: PathBuf,
        key_path: PathBuf,
        provider: Arc<CryptoProvider>,
    ) -> Result<Self, BoxError> {
        let current = certified_key(&cert_path, &key_path, &provider)?;
        Ok(ReloadingCert {
            cert_path,
            key_path,
            provider,
            current: RwLock::new(Arc::new(current)),
        })
    }

    /// Checks the files every `every` and, when they changed, loads them.
    pub(super) fn watch(self: Arc<Self>, every: Duration) {
        tokio::spawn(async move {
            let mut loaded = fingerprint(&self.cert_path, &self.key_path);
            let mut failed: Option<Fingerprint> = None;
            let mut ticks = tokio::time::interval(every);
            loop {
                ticks.tick().await;
                let now = fingerprint(&self.cert_path, &self.key_path);
                if now == loaded || Some(now) == failed {
                    continue;
                }
                match certified_key(&self.cert_path, &self.key_path, &self.provider) {
                    Ok(key) => {
                        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
                        loaded = now;
                        failed = None;
                        tracing::info!(
                            cert = %self.cert_path.display(),
                            "TLS certificate reloaded"
                        );
                    }
                    Err(err) => {
                        failed = Some(now);
                        tracing::warn!(
                            "TLS certificate not reloaded, keeping the previous one: {err}"
                        );
                    }
                }
            }
        });
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

fn fingerprint(cert: &Path, key: &Path) -> Fingerprint {
    [cert, key].map(|path| match fs::metadata(path) {
        Ok(meta) => (meta.modified().ok(), meta.len()),
        Err(_) => (None, 0),
    })
}

/// The certificate chain and key from PEM files, checked to belong together.
fn certified_key(
    cert_path: &Path,
    key_path: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, BoxError> {
    let cert_pem = fs::read(cert_path)
        .map_err(|err| format!("cannot read PYOCI_TLS_CERT {}: {err}", cert_path.display()))?;
    let certs = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|err| format!("PYOCI_TLS_CERT {} is not PEM: {err}", cert_path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "PYOCI_TLS_CERT {} holds no certificate",
            cert_path.display()
        )
        .into());
    }
    let key_pem = fs::read(key_path)
        .map_err(|err| format!("cannot read PYOCI_TLS_KEY {}: {err}", key_path.display()))?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|err| {
        format!(
            "PYOCI_TLS_KEY {} holds no usable private key: {err}",
            key_path.display()
        )
    })?;
    let signing_key = provider
        .key_provider
        .load_private_key(key)
        .map_err(|err| format!("PYOCI_TLS_KEY {}: {err}", key_path.display()))?;
    let certified = CertifiedKey::new(certs, signing_key);
    certified.keys_match().map_err(|err| {
        format!(
            "PYOCI_TLS_KEY {} does not belong to PYOCI_TLS_CERT {}: {err}",
            key_path.display(),
            cert_path.display()
        )
    })?;
    Ok(certified)
}
