use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

use crate::OciError;

const PREFIX: &str = "sha256:";
const HEX_LEN: usize = 64;

/// A content digest, always `sha256:` followed by 64 lowercase hex digits.
///
/// Only sha256 is supported: it is what every registry and every PyOCI manifest uses.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parses and validates `sha256:<64 lowercase hex>`.
    pub fn parse(value: &str) -> Result<Digest, OciError> {
        let invalid = |reason: &str| {
            OciError::InvalidInput(format!(
                "invalid digest {:?}: {reason}; expected sha256: followed by 64 lowercase hex digits",
                shorten(value)
            ))
        };
        let hex = value
            .strip_prefix(PREFIX)
            .ok_or_else(|| invalid("it does not start with sha256:"))?;
        if hex.len() != HEX_LEN {
            return Err(invalid("wrong length"));
        }
        if !hex
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(invalid("it holds characters other than 0-9 and a-f"));
        }
        Ok(Digest(value.to_owned()))
    }

    /// Parses the bare 64-digit hex form (as in `#sha256=<hex>` or an annotation value).
    pub fn from_hex(hex: &str) -> Result<Digest, OciError> {
        Digest::parse(&format!("{PREFIX}{hex}"))
    }

    /// The digest of `bytes`.
    pub fn sha256_of(bytes: &[u8]) -> Digest {
        Digest::from_sha256(Sha256::digest(bytes).into())
    }

    /// The digest of a finished sha256 hash.
    pub fn from_sha256(hash: [u8; 32]) -> Digest {
        let mut text = String::with_capacity(PREFIX.len() + HEX_LEN);
        text.push_str(PREFIX);
        for byte in hash {
            text.push(hex_digit(byte >> 4));
            text.push(hex_digit(byte & 0x0f));
        }
        Digest(text)
    }

    /// The 64 hex digits, without `sha256:`.
    pub fn hex(&self) -> &str {
        self.0.strip_prefix(PREFIX).unwrap_or(&self.0)
    }

    /// The full `sha256:<hex>` form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn hex_digit(nibble: u8) -> char {
    // `from_digit` answers lowercase and never fails for a value below 16.
    char::from_digit(u32::from(nibble & 0x0f), 16).unwrap_or('0')
}

/// Keeps error messages readable when someone passes a whole file as a digest.
fn shorten(value: &str) -> String {
    value.chars().take(80).collect()
}

impl FromStr for Digest {
    type Err = OciError;

    fn from_str(value: &str) -> Result<Self, Self::Err> {
        Digest::parse(value)
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.0)
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Digest::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY_JSON: &str =
        "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";

    #[test]
    fn sha256_of_matches_the_known_empty_config_digest() {
        let digest = Digest::sha256_of(b"{}");
        assert_eq!(digest.as_str(), EMPTY_JSON);
        assert_eq!(
            digest.hex(),
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(Digest::parse(EMPTY_JSON).unwrap(), digest);
        assert_eq!(Digest::from_hex(digest.hex()).unwrap(), digest);
    }

    #[test]
    fn parse_rejects_bad_input() {
        let upper = EMPTY_JSON.to_uppercase().replace("SHA256", "sha256");
        let bad = [
            "",
            "sha256:",
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            "sha512:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8",
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a0",
            "sha256:g4136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8é",
            &upper,
            " sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
        ];
        for value in bad {
            let error = Digest::parse(value).expect_err(value);
            assert!(matches!(error, OciError::InvalidInput(_)), "{value}");
            assert!(error.to_string().contains("64 lowercase hex"), "{error}");
        }
    }

    #[test]
    fn serde_validates() {
        let json = format!("\"{EMPTY_JSON}\"");
        let digest: Digest = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&digest).unwrap(), json);
        assert!(serde_json::from_str::<Digest>("\"sha256:nothex\"").is_err());
    }
}
