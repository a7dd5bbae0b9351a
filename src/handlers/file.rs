//! `GET|HEAD /<registry>/<namespace>/<project>/<filename>`: one file, streamed.

use http::{header, HeaderMap, HeaderValue, Response};
use pyoci_basic_auth::Credentials;

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
            let blob = oci.get_blob_with(&repo, &layer.digest, extra).await?;
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
    // A file's bytes never change under its name (re-uploads with other bytes are refused).
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=365000000, immutable, private"),
    );
    headers.insert(
        header::ETAG,
        HeaderValue::from_str(&format!("\"{}\"", layer.digest.hex()))
            .unwrap_or_else(|_| HeaderValue::from_static("\"\"")),
    );
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
        HeaderValue::from_static("max-age=365000000, immutable, private"),
    );
    Ok(response)
}
