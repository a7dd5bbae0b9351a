//! The issuer's signing key (made with the `openssl` CLI) and the JWTs it signs.

use std::{
    fs,
    path::{Path, PathBuf},
    process::{Command, Stdio},
};

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;

use super::policy::Access;

/// An ES256 (P-256) key and its self-signed certificate, the registry's `rootcertbundle`.
pub(crate) struct SigningKey {
    key: EncodingKey,
    /// Base64 DER of the certificate, for the JWT header's `x5c`.
    certificate_der_base64: String,
    certificate_path: PathBuf,
}

impl SigningKey {
    /// Generates a key and certificate into `dir` with `openssl req -x509 -newkey ec`.
    pub(crate) fn generate(dir: &Path) -> SigningKey {
        let key_path = dir.join("token.key");
        let certificate_path = dir.join("token.crt");
        let output = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
            ])
            .args(["-nodes", "-days", "3650", "-subj", "/CN=pyoci-test-issuer"])
            .arg("-keyout")
            .arg(&key_path)
            .arg("-out")
            .arg(&certificate_path)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|err| {
                panic!("openssl not found: run scripts/test, which installs it ({err})")
            });
        if !output.status.success() {
            panic!(
                "openssl could not make the token signing key ({}): {}",
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let key_pem = read(&key_path);
        let key = EncodingKey::from_ec_pem(key_pem.as_bytes())
            .unwrap_or_else(|err| panic!("openssl made an unusable EC key: {err}"));
        let certificate_der_base64 = pem_body(&read(&certificate_path));
        SigningKey {
            key,
            certificate_der_base64,
            certificate_path,
        }
    }

    /// The certificate the registry trusts.
    pub(crate) fn certificate_path(&self) -> &Path {
        &self.certificate_path
    }

    /// Signs `claims` as ES256 with the certificate in the header's `x5c`.
    pub(crate) fn sign(&self, claims: &Claims) -> String {
        let mut header = Header::new(Algorithm::ES256);
        header.x5c = Some(vec![self.certificate_der_base64.clone()]);
        jsonwebtoken::encode(&header, claims, &self.key)
            .unwrap_or_else(|err| panic!("cannot sign a token: {err}"))
    }
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

/// The base64 between a PEM's BEGIN and END lines: the DER, base64-encoded, as `x5c` wants.
fn pem_body(pem: &str) -> String {
    pem.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("-----"))
        .collect()
}

/// The claims distribution checks (`aud` must be a plain string, not an array).
#[derive(Debug, Serialize)]
pub(crate) struct Claims {
    pub(crate) iss: String,
    pub(crate) sub: String,
    pub(crate) aud: String,
    pub(crate) exp: u64,
    pub(crate) nbf: u64,
    pub(crate) iat: u64,
    pub(crate) jti: String,
    pub(crate) access: Vec<Access>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;

    #[test]
    fn pem_body_is_the_der_in_base64() {
        let pem = "-----BEGIN CERTIFICATE-----\nAAEC\nAwQ=\n-----END CERTIFICATE-----\n";
        assert_eq!(pem_body(pem), "AAECAwQ=");
    }

    #[test]
    fn signs_es256_tokens_with_x5c_and_the_claims() {
        let dir = tempfile::tempdir().unwrap();
        let key = SigningKey::generate(dir.path());
        assert!(key.certificate_path().exists());
        let token = key.sign(&Claims {
            iss: "issuer".into(),
            sub: "alice".into(),
            aud: "service".into(),
            exp: 2_000_000_300,
            nbf: 2_000_000_000,
            iat: 2_000_000_000,
            jti: "1".into(),
            access: vec![Access::parse_scope("repository:ns/x:pull").unwrap()],
        });
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let decode = |part: &str| -> serde_json::Value {
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap();
            serde_json::from_slice(&bytes).unwrap()
        };
        let header = decode(parts[0]);
        assert_eq!(header["alg"], "ES256");
        let x5c = header["x5c"][0].as_str().unwrap();
        let der = base64::engine::general_purpose::STANDARD
            .decode(x5c)
            .unwrap();
        assert_eq!(der[0], 0x30, "x5c holds a DER SEQUENCE");
        let claims = decode(parts[1]);
        assert_eq!(claims["aud"], "service");
        assert_eq!(claims["iss"], "issuer");
        assert_eq!(
            claims["access"],
            serde_json::json!([{"type": "repository", "name": "ns/x", "actions": ["pull"]}])
        );
    }
}
