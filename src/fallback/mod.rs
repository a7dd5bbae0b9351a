//! The safe public fallback (`PYOCI_FALLBACK_INDEX`): one index URL for private and public
//! packages, where a private name can never be shadowed by a public package.
//!
//! The rule, per project page: the registry decides, and only a definite "no such
//! repository" (404 `NAME_UNKNOWN`) sends the client elsewhere.
//! - The registry knows the project (its repository answers): private files only, never
//!   merged with the public index, even when the wanted version is missing.
//! - The registry says the repository does not exist: a temporary redirect to the public
//!   index's page of that project. PyOCI never calls the public index itself, so no
//!   credential of the user can reach it through PyOCI; clients drop credentials on a
//!   redirect to another host (tested for pip, uv and poetry).
//! - Anything else (401, 403, 429, 5xx, timeouts, an unreachable registry, a bare 404
//!   without `NAME_UNKNOWN`): that error. An outage never turns into public packages.
//! - Names matching `PYOCI_PRIVATE_NAMES` never fall back, even before their first upload.
//!
//! Registries that answer 401/403 for names that do not exist fall back only when the
//! operator lists them in `PYOCI_FALLBACK_ON_DENIED` (see docs/fallback.md).
//!
//! The handlers call in here only after the registry failed to list a project, so the
//! decision is in one place and the handlers stay as they were. Asking the registry again
//! is the store's (`store::registry_lacks`): this module decides, it does not read.

pub mod mirror;
mod names;
mod settings;

pub use mirror::MirrorSettings;
pub use names::NamePatterns;
pub use settings::{BaseUrl, FallbackSettings};

use http::{header, HeaderValue, Response, StatusCode};
use pyoci_oci::{OciError, Registry};

use crate::{body::Body, error::Error, package::ProjectName};

/// What the registry's answer for a project's repository means for the fallback.
#[derive(Debug)]
pub enum Verdict {
    /// The registry does not know the name: the public index may serve it.
    Unknown,
    /// The registry knows the name, or might: the registry's answer stands.
    Private,
}

impl FallbackSettings {
    /// Whether a failed listing may be a project the registry does not know, so the
    /// handler should ask [`FallbackSettings::redirect_page`] before failing.
    pub fn may_be_unknown(&self, registry: &Registry, error: &Error) -> bool {
        self.fallback_index.is_some()
            && match error {
                Error::NotFound(_) => true,
                Error::Registry(err) => self.denied_means_unknown(registry, err),
                _ => false,
            }
    }

    /// What the registry's answer to listing a repository's tags means.
    pub fn verdict(&self, registry: &Registry, listing: &Result<Vec<String>, OciError>) -> Verdict {
        match listing {
            Err(OciError::NotFound { .. })
                if listing_error_code(listing) == Some("NAME_UNKNOWN") =>
            {
                Verdict::Unknown
            }
            Err(err) if self.denied_means_unknown(registry, err) => Verdict::Unknown,
            _ => Verdict::Private,
        }
    }

    /// Whether this registry is one the operator said answers "denied" for unknown names.
    fn denied_means_unknown(&self, registry: &Registry, err: &OciError) -> bool {
        matches!(err, OciError::Unauthorized | OciError::Forbidden)
            && self.fallback_on_denied.iter().any(|listed| {
                let listed = listed.trim();
                listed.eq_ignore_ascii_case(registry.authority())
                    || listed.eq_ignore_ascii_case(registry.host())
            })
    }

    /// The refusal for a name that never falls back, or `None` when `name` may.
    pub fn private_name_refusal(&self, name: &ProjectName, repo: &str) -> Option<Error> {
        self.private_names.matches(name).then(|| {
            Error::NotFound(format!(
                "project `{name}` does not exist in `{repo}`; its name is private \
                 (PYOCI_PRIVATE_NAMES), so it is never looked up on the public index. Check \
                 the spelling, or publish it first"
            ))
        })
    }

    /// The redirect to the public index's page of `name`, if the fallback is on.
    pub fn page_redirect(&self, name: &ProjectName) -> Option<Response<Body>> {
        let index = self.fallback_index.as_ref()?;
        Some(temporary_redirect(&index.join_dir(name.normalized())))
    }

    /// The redirect to the public JSON API of `name`, or 404 when none is configured.
    pub fn json_redirect(&self, name: &ProjectName, repo: &str) -> Result<Response<Body>, Error> {
        match &self.fallback_json {
            Some(json) => Ok(temporary_redirect(&format!(
                "{}json",
                json.join_dir(name.normalized())
            ))),
            None => Err(Error::NotFound(format!(
                "project `{name}` is not in `{repo}`; its page comes from the public index, \
                 whose JSON API is not configured here (PYOCI_FALLBACK_JSON)"
            ))),
        }
    }
}

/// The distribution error code of a failed listing's 404, if the registry sent one.
fn listing_error_code(listing: &Result<Vec<String>, OciError>) -> Option<&str> {
    match listing {
        Err(err) => err.not_found_code(),
        Ok(_) => None,
    }
}

/// A redirect that no client or cache keeps: the answer changes as soon as someone
/// publishes the name to the registry, and from then on it must be the private one.
fn temporary_redirect(location: &str) -> Response<Body> {
    let mut response = Response::new(Body::from(format!(
        "not in this registry: see the public index at {location}\n"
    )));
    *response.status_mut() = StatusCode::FOUND;
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `page` unless it is the fallback's redirect, which becomes a 404: for readers that must
/// see the registry's files only (hatch's probe for files that already exist before an
/// upload; a public file of the same name would make it skip the private upload).
pub fn private_only(page: Response<Body>) -> Result<Response<Body>, Error> {
    let fallback_redirect = page.status() == StatusCode::FOUND
        && page.headers().get(header::CACHE_CONTROL) == Some(&HeaderValue::from_static("no-store"));
    if fallback_redirect {
        return Err(Error::NotFound(
            "no such project in the registry (the public fallback is for installs only)".into(),
        ));
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(on_denied: &[&str]) -> FallbackSettings {
        FallbackSettings {
            fallback_index: Some("https://pypi.org/simple/".parse().unwrap()),
            fallback_json: None,
            private_names: NamePatterns::default(),
            fallback_on_denied: on_denied.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn not_found(code: Option<&str>) -> Result<Vec<String>, OciError> {
        let body = code
            .map(|code| format!(r#"{{"errors":[{{"code":"{code}","message":"x"}}]}}"#))
            .unwrap_or_default();
        Err(pyoci_oci::error_for_status(
            &http::Method::GET,
            StatusCode::NOT_FOUND,
            body.as_bytes(),
            "repository acme/x",
        ))
    }

    fn status(status: u16) -> Result<Vec<String>, OciError> {
        Err(pyoci_oci::error_for_status(
            &http::Method::GET,
            StatusCode::from_u16(status).unwrap(),
            b"",
            "repository acme/x",
        ))
    }

    #[test]
    fn only_name_unknown_falls_back() {
        let ghcr = Registry::new("https", "ghcr.io").unwrap();
        let plain = settings(&[]);
        assert!(matches!(
            plain.verdict(&ghcr, &not_found(Some("NAME_UNKNOWN"))),
            Verdict::Unknown
        ));
        assert!(matches!(
            plain.verdict(&ghcr, &Ok(vec![])),
            Verdict::Private
        ));
        assert!(matches!(
            plain.verdict(&ghcr, &not_found(None)),
            Verdict::Private
        ));
        assert!(matches!(
            plain.verdict(&ghcr, &not_found(Some("MANIFEST_UNKNOWN"))),
            Verdict::Private
        ));
        for code in [401, 403, 429, 500, 502, 503, 504] {
            assert!(
                matches!(plain.verdict(&ghcr, &status(code)), Verdict::Private),
                "{code}"
            );
        }
        let timeout = Err(OciError::TimedOut("slow".into()));
        assert!(matches!(plain.verdict(&ghcr, &timeout), Verdict::Private));
        let down = Err(OciError::Unreachable("down".into()));
        assert!(matches!(plain.verdict(&ghcr, &down), Verdict::Private));
    }

    #[test]
    fn denied_falls_back_only_for_registries_opted_in() {
        let ghcr = Registry::new("https", "ghcr.io").unwrap();
        let other = Registry::new("https", "registry.example").unwrap();
        let opted = settings(&["ghcr.io"]);
        assert!(matches!(
            opted.verdict(&ghcr, &status(401)),
            Verdict::Unknown
        ));
        assert!(matches!(
            opted.verdict(&ghcr, &status(403)),
            Verdict::Unknown
        ));
        assert!(matches!(
            opted.verdict(&ghcr, &status(500)),
            Verdict::Private
        ));
        assert!(matches!(
            opted.verdict(&ghcr, &status(429)),
            Verdict::Private
        ));
        assert!(matches!(
            opted.verdict(&other, &status(401)),
            Verdict::Private
        ));
    }

    #[test]
    fn off_by_default() {
        let off = FallbackSettings::default();
        let ghcr = Registry::new("https", "ghcr.io").unwrap();
        assert!(!off.may_be_unknown(&ghcr, &Error::NotFound("x".into())));
        assert!(off
            .page_redirect(&ProjectName::parse("x").unwrap())
            .is_none());
    }

    #[test]
    fn redirects_are_temporary_and_not_stored() {
        let response = settings(&[])
            .page_redirect(&ProjectName::parse("Some_Thing").unwrap())
            .unwrap();
        assert_eq!(response.status(), StatusCode::FOUND);
        assert_eq!(
            response.headers()[header::LOCATION],
            "https://pypi.org/simple/some-thing/"
        );
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    }
}
