//! `GET|HEAD /<registry>/<namespace>/<project>/<filename>`: one file, streamed.

use http::{header, HeaderMap, HeaderValue, Response};
use http_body_util::Full;
use pyoci_oci::{read_body, BlobDownload, Descriptor, Digest, ImageManifest, OciError};

use super::project_file;
use crate::{
    app::App,
    body::Body,
    cache::SMALL_BLOB_LIMIT,
    error::Error,
    layout,
    package::DistFilename,
    route::METADATA_SUFFIX,
    store::{Repository, Resolver},
};

/// What the client asked of the file besides its name.
#[derive(Clone)]
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

/// A wheel's METADATA (small, read whole; a range is not honoured): from memory for a
/// caller the registry judged, else from the registry and then kept in memory by digest.
async fn metadata(
    resolver: &Resolver<'_>,
    digest: &Digest,
    judged: Judged,
) -> Result<Response<Body>, Error> {
    let kept = match judged {
        Judged::NotYet => None,
        Judged::Already | Judged::WithinTtl => resolver.small_blob(digest),
    };
    let bytes = match kept {
        Some(bytes) => bytes,
        None => {
            let blob = resolver.oci().get_blob(resolver.repo(), digest).await?;
            let declared = blob
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|length| length.to_str().ok()?.parse::<usize>().ok());
            if !declared.is_some_and(|length| length <= SMALL_BLOB_LIMIT) {
                // Too large to keep (or of unknown size): streamed as it comes.
                let (parts, body) = blob.into_parts();
                let mut response = Response::new(Body::new(body));
                if let Some(length) = parts.headers.get(header::CONTENT_LENGTH) {
                    response
                        .headers_mut()
                        .insert(header::CONTENT_LENGTH, length.clone());
                }
                return Ok(response);
            }
            let bytes = read_body(blob.into_body(), SMALL_BLOB_LIMIT, "METADATA file").await?;
            resolver.keep_small_blob(digest, bytes.clone());
            bytes
        }
    };
    let length = HeaderValue::from(bytes.len());
    let mut response = Response::new(Body::new(Full::new(bytes)));
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, length);
    Ok(response)
}

/// Sends the client to where the registry sent the download (`PYOCI_REDIRECT_DOWNLOADS`).
/// The signed URL expires within minutes, so no cache may keep the redirect; the client
/// resends its `Range` there itself, and checks the bytes against the page's sha256. The
/// registry judged the caller's credentials before redirecting.
fn to_storage(location: &str) -> Result<Response<Body>, Error> {
    let location = HeaderValue::from_str(location).map_err(|_| {
        Error::Registry(OciError::InvalidResponse(
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

/// What a download serves: a distribution file, or a wheel's METADATA (PEP 658).
enum Served<'a> {
    File(&'a DistFilename),
    Metadata,
}

/// The blob to serve, and its size when known without asking (a file's, for `HEAD`).
struct Blob {
    digest: Digest,
    size: Option<u64>,
}

/// Streams the file's blob (or its METADATA's) from the registry, whole or the range asked
/// for.
///
/// Where the blob is comes from the caches when a listing or an earlier download read the
/// version's tag less than `PYOCI_CACHE_TTL` ago: then the download costs one registry
/// request, the blob request, which judges the caller's credentials (see
/// [`Resolver`]). When that blob is gone (the file was deleted or replaced through another
/// process), the tag is read again before answering.
pub async fn get_file(
    app: &App,
    repository: Repository,
    filename: String,
    request: FileRequest,
) -> Result<Response<Body>, Error> {
    let (filename, metadata) = match filename.strip_suffix(METADATA_SUFFIX) {
        Some(wheel) => (wheel, true),
        None => (filename.as_str(), false),
    };
    let file = project_file(repository.name(), filename)?;
    let served = if metadata {
        Served::Metadata
    } else {
        Served::File(&file)
    };
    let repo = repository.path();
    let resolver = repository.resolver();
    let redirect = app.config.redirect_downloads;

    let cached = resolver
        .cached_entry(&file)
        .and_then(|entry| cached_blob(&resolver, &served, &entry));
    if let Some(blob) = cached {
        let judged = match resolver.accepted() {
            true => Judged::WithinTtl,
            false => Judged::NotYet,
        };
        match answer(&resolver, &served, &blob, &request, judged, redirect).await {
            Err(Error::Registry(OciError::NotFound { .. })) => {
                tracing::debug!(%repo, file = %file, "cached blob gone; reading the tag again");
                resolver.forget(file.version());
            }
            answer => return answer,
        }
    }

    let not_found = || match served {
        Served::File(_) => Error::NotFound(format!("no file `{filename}` in `{repo}`")),
        Served::Metadata => {
            Error::NotFound(format!("no metadata file for `{filename}` in `{repo}`"))
        }
    };
    let entry = resolver.read_entry(&file).await?.ok_or_else(not_found)?;
    let blob = match served {
        Served::File(_) => {
            let manifest = resolver.read_manifest(&entry.digest).await?;
            file_layer(&manifest, filename)?
        }
        Served::Metadata => metadata_blob(&entry).ok_or_else(not_found)?,
    };
    answer(
        &resolver,
        &served,
        &blob,
        &request,
        Judged::Already,
        redirect,
    )
    .await
}

/// The blob of a cached index entry without asking the registry, or `None` (then the
/// registry is asked). A file's comes from its manifest when cached, else from the entry's
/// annotations: the sha256 and size the page gave the client, which are its layer's (PyOCI
/// writes them together; a wrong one finds no blob, and the manifest is read instead).
fn cached_blob(resolver: &Resolver<'_>, served: &Served<'_>, entry: &Descriptor) -> Option<Blob> {
    match served {
        Served::Metadata => metadata_blob(entry),
        Served::File(filename) => match resolver.cached_manifest(&entry.digest) {
            Some(manifest) => file_layer(&manifest, &filename.to_string()).ok(),
            None => {
                let sha256 = entry.annotations.get(layout::SHA256_ANNOTATION)?;
                let size = entry.annotations.get(layout::SIZE_ANNOTATION)?;
                Some(Blob {
                    digest: Digest::from_hex(sha256).ok()?,
                    size: Some(size.parse().ok()?),
                })
            }
        },
    }
}

/// A file's blob: its manifest's one layer.
fn file_layer(manifest: &ImageManifest, filename: &str) -> Result<Blob, Error> {
    let [layer] = manifest.layers.as_slice() else {
        return Err(Error::Registry(OciError::InvalidResponse(format!(
            "the manifest of `{filename}` has {} layers; a PyOCI file has exactly one",
            manifest.layers.len()
        ))));
    };
    Ok(Blob {
        digest: layer.digest.clone(),
        size: Some(layer.size),
    })
}

/// A wheel's METADATA blob, named by its index entry (PEP 658); `None` when it has none.
fn metadata_blob(entry: &Descriptor) -> Option<Blob> {
    let sha256 = entry.annotations.get(layout::CORE_METADATA_ANNOTATION)?;
    Some(Blob {
        digest: Digest::from_hex(sha256).ok()?,
        size: None,
    })
}

/// Whether the registry has judged the caller's credentials for the repository in this
/// request yet.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Judged {
    /// Yes: the version's tag was read with them.
    Already,
    /// Less than a TTL ago: this process read a page of the project for them
    /// ([`Resolver::accepted`]). Enough to answer without the registry what needs no
    /// bytes from it, and METADATA kept in memory; a file's bytes still come from it.
    WithinTtl,
    /// No: the blob came from the caches, so the answer must come from a registry request
    /// made with the caller's credentials.
    NotYet,
}

/// The answer for `blob`: a 304 for a matching `If-None-Match`, headers for `HEAD`, else
/// the bytes (or the range asked for).
///
/// A 304 or a `HEAD` after a cached resolution costs a blob `HEAD`: one request, judged
/// by the registry like the `GET` (a refusal is the caller's 401/403, a blob gone is 404).
/// Reading the tag and manifest instead would cost two.
async fn answer(
    resolver: &Resolver<'_>,
    served: &Served<'_>,
    blob: &Blob,
    request: &FileRequest,
    judged: Judged,
    redirect_downloads: bool,
) -> Result<Response<Body>, Error> {
    let (oci, repo) = (resolver.oci(), resolver.repo());
    let etag = etag(blob.digest.hex());
    let sends_bytes = !request.head_only && !matches_etag(request.if_none_match.as_ref(), &etag);
    if !sends_bytes && judged == Judged::NotYet && !oci.blob_exists(repo, &blob.digest).await? {
        return Err(Error::Registry(OciError::NotFound {
            what: format!("blob {repo}@{}", blob.digest),
        }));
    }
    if matches_etag(request.if_none_match.as_ref(), &etag) {
        return Ok(not_modified(etag));
    }
    let mut response = if request.head_only {
        let mut response = Response::new(Body::empty());
        if let Some(size) = blob.size {
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(size));
        }
        response
    } else if let Served::Metadata = served {
        metadata(resolver, &blob.digest, judged).await?
    } else {
        let mut extra = HeaderMap::new();
        if let Some(range) = &request.range {
            extra.insert(header::RANGE, range.clone());
        }
        let blob = match served {
            Served::File(_) if redirect_downloads => {
                match oci.download_blob(repo, &blob.digest, extra).await? {
                    BlobDownload::Bytes(blob) => blob,
                    BlobDownload::Elsewhere(location) => return to_storage(&location),
                }
            }
            _ => oci.get_blob_with(repo, &blob.digest, extra).await?,
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
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(FILE_CACHE_CONTROL),
    );
    headers.insert(header::ETAG, etag);
    match served {
        Served::File(file) => {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
            let disposition = format!("attachment; filename=\"{file}\"");
            if let Ok(disposition) = HeaderValue::from_str(&disposition) {
                headers.insert(header::CONTENT_DISPOSITION, disposition);
            }
        }
        Served::Metadata => {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            );
        }
    }
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
