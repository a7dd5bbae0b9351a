//! `GET|HEAD /<registry>/<namespace>/<project>/<filename>`: one file, streamed.

use http::{header, HeaderMap, HeaderValue, Response};
use pyoci_basic_auth::Credentials;
use pyoci_oci::BlobDownload;

use super::{project_file, repository, stored_entry};
use crate::{
    app::App, body::Body, error::Error, layout, package::ProjectName, route::Target,
    route::METADATA_SUFFIX,
};

/// What the client asked of the file besides its name.
pub struct FileRequest {
    /// `HEAD`: headers only; the blob is not fetched.
    pub head_only: bool,
    /// A `Range` header, passed to the registry (uv and poetry read wheels lazily).
    pub range: Option<HeaderValue>,
    /// An `If-None-Match` header: a cache revalidating what it holds.
    pub if_none_match: Option<HeaderValue>,
}

/// Files are cached privately (they depend on credentials) and always revalidated: a file
/// may be deleted and uploaded again under the same name with other bytes, so no cache may
/// keep serving it unasked. The revalidation is cheap: a 304 when the ETag (the content's
/// sha256) still matches, without fetching the blob.
const FILE_CACHE_CONTROL: &str = "private, no-cache";

/// A strong ETag for content of this sha256 (hex).
fn etag(sha256_hex: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{sha256_hex}\"")).unwrap_or(HeaderValue::from_static("\"\""))
}

/// Whether `If-None-Match` names `etag` (or is `*`), as RFC 9110 compares them for GET and
/// HEAD: weakly, so `W/"x"` matches `"x"`.
fn matches_etag(if_none_match: Option<&HeaderValue>, etag: &HeaderValue) -> bool {
    let (Some(header), Ok(etag)) = (if_none_match.map(HeaderValue::to_str), etag.to_str()) else {
        return false;
    };
    let Ok(header) = header else { return false };
    header.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

/// `304 Not Modified` with the validator and caching headers the `200` would carry.
fn not_modified(etag: HeaderValue) -> Response<Body> {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = http::StatusCode::NOT_MODIFIED;
    let headers = response.headers_mut();
    headers.insert(header::ETAG, etag);
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(FILE_CACHE_CONTROL),
    );
    response
}

/// Sends the client to where the registry sent the download (`PYOCI_REDIRECT_DOWNLOADS`).
/// The signed URL expires within minutes, so no cache may keep the redirect; the client
/// resends its `Range` there itself, and checks the bytes against the page's sha256.
fn to_storage(location: &str) -> Result<Response<Body>, Error> {
    let location = HeaderValue::from_str(location).map_err(|_| {
        Error::Registry(pyoci_oci::OciError::InvalidResponse(
            "the registry redirected a download to a location that is not a valid header"
                .to_owned(),
        ))
    })?;
    let mut response = Response::new(Body::empty());
    *response.status_mut() = http::StatusCode::TEMPORARY_REDIRECT;
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// Streams the file's blob from the registry, whole or the range asked for.
pub async fn get_file(
    app: &App,
    target: Target,
    project: String,
    filename: String,
    credentials: Credentials,
    request: FileRequest,
) -> Result<Response<Body>, Error> {
    let name = ProjectName::parse(&project)?;
    if let Some(filename) = filename.strip_suffix(METADATA_SUFFIX) {
        return get_core_metadata(app, target, name, filename, credentials, request).await;
    }
    let file = project_file(&name, &filename)?;
    let oci = app.oci(&target, credentials);
    let repo = repository(&target, &name);
    let not_found = || Error::NotFound(format!("no file `{filename}` in `{repo}`"));
    let entry = stored_entry(&oci, &repo, &file)
        .await?
        .ok_or_else(not_found)?;
    let (manifest, _) = oci.get_image_manifest(&repo, entry.digest.as_str()).await?;
    let [layer] = manifest.layers.as_slice() else {
        return Err(Error::Registry(pyoci_oci::OciError::InvalidResponse(
            format!(
                "the manifest of `{filename}` has {} layers; a PyOCI file has exactly one",
                manifest.layers.len()
            ),
        )));
    };

    let etag = etag(layer.digest.hex());
    if matches_etag(request.if_none_match.as_ref(), &etag) {
        return Ok(not_modified(etag));
    }
    let mut response = match (request.head_only, request.range) {
        (true, _) => {
            let mut response = Response::new(Body::empty());
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(layer.size));
            response
        }
        (false, range) => {
            let mut extra = HeaderMap::new();
            if let Some(range) = range {
                extra.insert(header::RANGE, range);
            }
            let blob = if app.config.redirect_downloads {
                match oci.download_blob(&repo, &layer.digest, extra).await? {
                    BlobDownload::Bytes(blob) => blob,
                    BlobDownload::Elsewhere(location) => return to_storage(&location),
                }
            } else {
                oci.get_blob_with(&repo, &layer.digest, extra).await?
            };
            let (parts, body) = blob.into_parts();
            let mut response = Response::new(Body::new(body));
            *response.status_mut() = parts.status;
            for name in [header::CONTENT_LENGTH, header::CONTENT_RANGE] {
                if let Some(value) = parts.headers.get(&name) {
                    response.headers_mut().insert(name, value.clone());
                }
            }
            response
        }
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(FILE_CACHE_CONTROL),
    );
    headers.insert(header::ETAG, etag);
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", file)) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

/// `<file>.metadata`: the wheel's METADATA, stored as its manifest's config blob (PEP 658).
async fn get_core_metadata(
    app: &App,
    target: Target,
    name: ProjectName,
    filename: &str,
    credentials: Credentials,
    request: FileRequest,
) -> Result<Response<Body>, Error> {
    let file = project_file(&name, filename)?;
    let oci = app.oci(&target, credentials);
    let repo = repository(&target, &name);
    let not_found = || Error::NotFound(format!("no metadata file for `{filename}` in `{repo}`"));
    let entry = stored_entry(&oci, &repo, &file)
        .await?
        .ok_or_else(not_found)?;
    let sha256 = entry
        .annotations
        .get(layout::CORE_METADATA_ANNOTATION)
        .ok_or_else(not_found)?;
    let digest = pyoci_oci::Digest::from_hex(sha256)?;
    let etag = etag(digest.hex());
    if matches_etag(request.if_none_match.as_ref(), &etag) {
        return Ok(not_modified(etag));
    }
    let mut response = if request.head_only {
        Response::new(Body::empty())
    } else {
        let blob = oci.get_blob(&repo, &digest).await?;
        let (parts, body) = blob.into_parts();
        let mut response = Response::new(Body::new(body));
        if let Some(length) = parts.headers.get(header::CONTENT_LENGTH) {
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, length.clone());
        }
        response
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(FILE_CACHE_CONTROL),
    );
    headers.insert(header::ETAG, etag);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_is_compared_weakly_and_in_lists() {
        let tag = etag("abc");
        let header = |value: &'static str| Some(HeaderValue::from_static(value));
        for matching in ["\"abc\"", "W/\"abc\"", "\"x\", \"abc\"", "*"] {
            assert!(matches_etag(header(matching).as_ref(), &tag), "{matching}");
        }
        for other in ["\"abcd\"", "abc", "\"x\""] {
            assert!(!matches_etag(header(other).as_ref(), &tag), "{other}");
        }
        assert!(!matches_etag(None, &tag));
    }
}
