//! serde_json on the OCI documents PyOCI reads from registries (`ImageIndex`, `ImageManifest`),
//! and `pyoci_oci::error_for_status` on arbitrary statuses and error bodies.
//!
//! Properties: nothing panics; a document that parses, written back and parsed again, is
//! equal to the first parse (unknown fields included), and writing it again gives the same
//! bytes; an error's message is bounded no matter how long the body is.

use arbitrary::Arbitrary;
use http::{Method, StatusCode};
use pyoci_oci::{error_for_status, ImageIndex, ImageManifest};
use serde::de::DeserializeOwned;
use serde::Serialize;

#[derive(Arbitrary, Debug)]
pub struct Input<'a> {
    pub document: &'a [u8],
    pub status: u16,
    pub method: MethodChoice,
    pub what: &'a str,
}

#[derive(Arbitrary, Debug)]
pub enum MethodChoice {
    Get,
    Head,
    Put,
    Post,
    Patch,
    Delete,
}

/// Checks the properties above on one input; panics when one does not hold.
pub fn check(input: Input<'_>) {
    round_trip::<ImageIndex>(input.document);
    round_trip::<ImageManifest>(input.document);

    let method = match input.method {
        MethodChoice::Get => Method::GET,
        MethodChoice::Head => Method::HEAD,
        MethodChoice::Put => Method::PUT,
        MethodChoice::Post => Method::POST,
        MethodChoice::Patch => Method::PATCH,
        MethodChoice::Delete => Method::DELETE,
    };
    // Success statuses never reach error_for_status.
    let Ok(status) = StatusCode::from_u16(input.status) else {
        return;
    };
    if status.is_success() {
        return;
    }
    let error = error_for_status(&method, status, input.document, input.what);
    let message = error.to_string();
    // The registry's part of the message is capped (300 characters, plus the names of the
    // status, error code and resource); a huge body must not come through whole.
    let limit = 1000 + 2 * input.what.chars().count() + 4 * code_length(input.document);
    assert!(
        message.chars().count() <= limit,
        "{} characters in the message for a {}-byte body",
        message.chars().count(),
        input.document.len()
    );
}

/// Length of the longest string in the body: a distribution error's `code` is echoed whole.
fn code_length(body: &[u8]) -> usize {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|document| {
            document["errors"].as_array().map(|errors| {
                errors
                    .iter()
                    .filter_map(|entry| entry["code"].as_str())
                    .map(|code| code.chars().count())
                    .max()
                    .unwrap_or(0)
            })
        })
        .unwrap_or(0)
}

fn round_trip<T>(bytes: &[u8])
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let Ok(parsed) = serde_json::from_slice::<T>(bytes) else {
        return;
    };
    let written = match serde_json::to_vec(&parsed) {
        Ok(written) => written,
        Err(error) => panic!(
            "a parsed {} cannot be written: {error}",
            std::any::type_name::<T>()
        ),
    };
    let reparsed = match serde_json::from_slice::<T>(&written) {
        Ok(reparsed) => reparsed,
        Err(error) => panic!(
            "a written {} does not parse: {error}\n{}",
            std::any::type_name::<T>(),
            String::from_utf8_lossy(&written)
        ),
    };
    assert_eq!(parsed, reparsed, "{}", String::from_utf8_lossy(&written));
    let rewritten = serde_json::to_vec(&reparsed).unwrap_or_default();
    assert_eq!(written, rewritten, "writing is not stable");
}
