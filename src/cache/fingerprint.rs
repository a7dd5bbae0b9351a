//! Credentials as a cache key: a keyed hash, so the key says nothing about the password
//! even to someone who reads the process's memory maps or a core dump without the key.

use std::fmt;

use pyoci_basic_auth::Credentials;
use ring::{hmac, rand::SystemRandom};

/// The per-process secret credentials are fingerprinted with (HMAC-SHA256). Made anew at
/// every start, never written anywhere.
pub struct FingerprintKey(hmac::Key);

/// HMAC-SHA256 of a set of credentials. Its `Debug` prints nothing of it, so it cannot end
/// up in a log.
#[derive(Clone, Copy, Hash, PartialEq, Eq)]
pub struct Fingerprint([u8; 32]);

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fingerprint(***)")
    }
}

impl FingerprintKey {
    /// A fresh random key; `None` when the system has no randomness to give.
    pub fn generate() -> Option<FingerprintKey> {
        hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new())
            .ok()
            .map(FingerprintKey)
    }

    /// The fingerprint of `credentials`. Each part is length-prefixed, so no two different
    /// credentials hash the same input.
    pub fn fingerprint(&self, credentials: &Credentials) -> Fingerprint {
        let mut context = hmac::Context::with_key(&self.0);
        let mut part = |bytes: &[u8]| {
            context.update(&(bytes.len() as u64).to_be_bytes());
            context.update(bytes);
        };
        match credentials {
            Credentials::Anonymous => part(b"anonymous"),
            Credentials::Basic { username, password } => {
                part(b"basic");
                part(username.as_bytes());
                part(password.expose().as_bytes());
            }
            Credentials::Bearer(token) => {
                part(b"bearer");
                part(token.expose().as_bytes());
            }
        }
        let tag = context.sign();
        let mut bytes = [0; 32];
        bytes.copy_from_slice(tag.as_ref());
        Fingerprint(bytes)
    }
}

#[cfg(test)]
mod tests {
    use pyoci_basic_auth::Secret;

    use super::*;

    fn basic(username: &str, password: &str) -> Credentials {
        Credentials::Basic {
            username: username.into(),
            password: Secret::new(password),
        }
    }

    #[test]
    fn differs_per_credentials_and_per_process() {
        let key = FingerprintKey::generate().unwrap();
        let alice = key.fingerprint(&basic("alice", "pw"));
        assert_eq!(alice, key.fingerprint(&basic("alice", "pw")));
        for other in [
            basic("alice", "pw2"),
            basic("alicep", "w"),
            basic("bob", "pw"),
            Credentials::Bearer(Secret::new("pw")),
            Credentials::Anonymous,
        ] {
            assert_ne!(alice, key.fingerprint(&other));
        }
        let another_process = FingerprintKey::generate().unwrap();
        assert_ne!(alice, another_process.fingerprint(&basic("alice", "pw")));
        assert_eq!(format!("{alice:?}"), "Fingerprint(***)");
    }
}
