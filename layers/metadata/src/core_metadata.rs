//! The core metadata file (`METADATA` / `PKG-INFO`) and its header parser.

use bytes::Bytes;
use sha2::{Digest, Sha256};

use crate::MetadataError;

/// A distribution's core metadata file, exactly as it is in the archive, with the facts an
/// index needs from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreMetadata {
    /// The file's exact bytes: serve these, unchanged, at `<file-url>.metadata` (PEP 658).
    pub bytes: Bytes,
    /// The lowercase hex sha256 of `bytes`, for `data-core-metadata="sha256=..."`.
    pub sha256: String,
    /// `Requires-Python`, when present and not blank.
    pub requires_python: Option<String>,
    /// `Name`, when present and not blank.
    pub name: Option<String>,
    /// `Version`, when present and not blank.
    pub version: Option<String>,
    /// `Metadata-Version`, when present and not blank.
    pub metadata_version: Option<String>,
    /// Every header field, in file order.
    pub fields: CoreMetadataFields,
}

impl CoreMetadata {
    /// Hashes and parses a metadata file's bytes.
    ///
    /// Fails only when the bytes are not UTF-8 (see [`parse_core_metadata`]).
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Result<Self, MetadataError> {
        let bytes = bytes.into();
        let fields = parse_core_metadata(&bytes)?;
        let present = |name: &str| {
            fields
                .get(name)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        Ok(Self {
            sha256: hex(&Sha256::digest(&bytes)),
            requires_python: present("Requires-Python"),
            name: present("Name"),
            version: present("Version"),
            metadata_version: present("Metadata-Version"),
            fields,
            bytes,
        })
    }
}

/// The header fields of a core metadata file, in file order.
///
/// Field names are matched without regard to case, as in email headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CoreMetadataFields {
    fields: Vec<(String, String)>,
}

impl CoreMetadataFields {
    /// The first value of the field `name`, if it is present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every value of the field `name`, in file order (for multiple-use fields such as
    /// `Requires-Dist`, `Classifier` and `Project-URL`).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.fields
            .iter()
            .filter(move |(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Every `(name, value)` pair, in file order, names as written in the file.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
    }

    /// The number of fields, counting each use of a multiple-use field.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the file has no header fields at all.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// Parses the header block of a core metadata file (`METADATA` or `PKG-INFO`).
///
/// The format is the email header format the core metadata specification uses:
/// - fields run until the first blank line (the body after it, a long description, is not
///   read);
/// - a line starting with a space or tab continues the previous field: the line break is
///   removed and the line's text kept, leading whitespace included (RFC 5322 unfolding);
/// - `\n` and `\r\n` line ends are both accepted; values are trimmed at both ends;
/// - a line that is neither a field (`Name: value`, the name printable ASCII without spaces
///   or colons) nor a continuation ends the header block, as in Python's email parser.
///
/// The only error is [`MetadataError::NotUtf8`]: the specification requires UTF-8.
pub fn parse_core_metadata(bytes: &[u8]) -> Result<CoreMetadataFields, MetadataError> {
    let text = std::str::from_utf8(bytes).map_err(|err| MetadataError::NotUtf8 {
        offset: err.valid_up_to(),
    })?;
    let mut fields: Vec<(String, String)> = Vec::new();
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            break;
        }
        if line.starts_with([' ', '\t']) {
            // A continuation before any field has nothing to continue; skip it like Python.
            if let Some((_, value)) = fields.last_mut() {
                value.push_str(line.trim_end());
            }
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            break;
        };
        if name.is_empty() || !name.bytes().all(is_field_name_byte) {
            break;
        }
        fields.push((name.to_owned(), value.trim().to_owned()));
    }
    for (_, value) in &mut fields {
        let trimmed = value.trim();
        if trimmed.len() != value.len() {
            *value = trimmed.to_owned();
        }
    }
    Ok(CoreMetadataFields { fields })
}

/// Printable ASCII other than space and colon, as RFC 5322 allows in field names.
fn is_field_name_byte(byte: u8) -> bool {
    (b'!'..=b'~').contains(&byte) && byte != b':'
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_until_the_blank_line() {
        let text = b"Metadata-Version: 2.1\nName: hello-pyoci\nVersion: 1.0\n\
                     Requires-Python: >=3.8,<4\n\nName: not-a-field\n";
        let fields = parse_core_metadata(text).unwrap();
        assert_eq!(fields.get("metadata-version"), Some("2.1"));
        assert_eq!(fields.get("Name"), Some("hello-pyoci"));
        assert_eq!(fields.get("VERSION"), Some("1.0"));
        assert_eq!(fields.get("Requires-Python"), Some(">=3.8,<4"));
        assert_eq!(fields.len(), 4);
    }

    #[test]
    fn collects_multiple_use_fields_in_order() {
        let text = b"Name: a\nRequires-Dist: requests>=2\nClassifier: A :: B\n\
                     requires-dist: idna; extra == \"x\"\nClassifier: C :: D\n";
        let fields = parse_core_metadata(text).unwrap();
        let requires: Vec<_> = fields.get_all("Requires-Dist").collect();
        assert_eq!(requires, ["requests>=2", "idna; extra == \"x\""]);
        let classifiers: Vec<_> = fields.get_all("classifier").collect();
        assert_eq!(classifiers, ["A :: B", "C :: D"]);
    }

    #[test]
    fn unfolds_continuation_lines() {
        let text = b"Summary: a summary\r\n  that goes on\r\n\tand on\r\nName: x\r\n";
        let fields = parse_core_metadata(text).unwrap();
        assert_eq!(
            fields.get("Summary"),
            Some("a summary  that goes on\tand on")
        );
        assert_eq!(fields.get("Name"), Some("x"));
    }

    #[test]
    fn folded_requires_python_stays_a_valid_specifier() {
        let text = b"Requires-Python: >=3.8,\n <4\n";
        let fields = parse_core_metadata(text).unwrap();
        assert_eq!(fields.get("Requires-Python"), Some(">=3.8, <4"));
    }

    #[test]
    fn missing_fields_are_none() {
        let metadata = CoreMetadata::from_bytes(&b"Metadata-Version: 2.1\nName: x\n"[..]).unwrap();
        assert_eq!(metadata.metadata_version.as_deref(), Some("2.1"));
        assert_eq!(metadata.name.as_deref(), Some("x"));
        assert_eq!(metadata.version, None);
        assert_eq!(metadata.requires_python, None);
    }

    #[test]
    fn blank_requires_python_is_none() {
        let metadata = CoreMetadata::from_bytes(&b"Name: x\nRequires-Python: \n"[..]).unwrap();
        assert_eq!(metadata.requires_python, None);
        assert_eq!(metadata.fields.get("Requires-Python"), Some(""));
    }

    #[test]
    fn a_line_that_is_not_a_field_ends_the_headers() {
        let text = b"Name: x\nthis is prose\nVersion: 1\n";
        let fields = parse_core_metadata(text).unwrap();
        assert_eq!(fields.get("Name"), Some("x"));
        assert_eq!(fields.get("Version"), None);
        let spaced = parse_core_metadata(b"Name : x\n").unwrap();
        assert!(spaced.is_empty());
    }

    #[test]
    fn a_leading_continuation_is_skipped() {
        let fields = parse_core_metadata(b"  stray\nName: x\n").unwrap();
        assert_eq!(fields.iter().collect::<Vec<_>>(), [("Name", "x")]);
    }

    #[test]
    fn values_may_contain_colons() {
        let fields = parse_core_metadata(b"Project-URL: Home, https://example.test/x\n").unwrap();
        assert_eq!(
            fields.get("Project-URL"),
            Some("Home, https://example.test/x")
        );
    }

    #[test]
    fn non_utf8_is_an_error() {
        let err = parse_core_metadata(b"Name: caf\xe9\n").unwrap_err();
        assert_eq!(err, MetadataError::NotUtf8 { offset: 9 });
    }

    #[test]
    fn empty_input_has_no_fields() {
        assert!(parse_core_metadata(b"").unwrap().is_empty());
    }

    #[test]
    fn hashes_the_exact_bytes() {
        let metadata = CoreMetadata::from_bytes(&b"Name: x\n"[..]).unwrap();
        assert_eq!(metadata.bytes, Bytes::from_static(b"Name: x\n"));
        // Computed independently: `printf 'Name: x\n' | sha256sum`.
        assert_eq!(
            metadata.sha256,
            "cb658f93ec578f7a57901164c6c729e4d68b0476846e8050aa630287ec344da0"
        );
    }
}
