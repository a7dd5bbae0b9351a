//! `GET|HEAD /<registry>/<namespace>/<project>/<filename>`: one file, streamed.

use http::{header, HeaderValue, Response};
use pyoci_basic_auth::Credentials;

use super::{read_index, repository};
use crate::{
    app::App,
    body::Body,
    error::Error,
    layout,
    package::{DistFilename, ProjectName},
    route::Target,
};

/// Streams the file's blob from the registry. For `HEAD` only the headers are produced,
/// without fetching the blob.
pub async fn get_file(
    app: &App,
    target: Target,
    project: String,
    filename: String,
    credentials: Credentials,
    head_only: bool,
) -> Result<Response<Body>, Error> {
    let name = ProjectName::parse(&project)?;
    let file = DistFilename::parse(&filename)?;
    if file.name() != &name {
        return Err(Error::NotFound(format!(
            "`{filename}` is not a file of project `{name}`"
        )));
    }
    let oci = app.oci(&target, credentials);
    let repo = repository(&target, &name);
    let not_found = || Error::NotFound(format!("no file `{filename}` in `{repo}`"));
    let (index, _) = read_index(&oci, &repo, file.version())
        .await?
        .ok_or_else(not_found)?;
    let entry = layout::find_file(&index, file.architecture()).ok_or_else(not_found)?;
    let (manifest, _) = oci.get_image_manifest(&repo, entry.digest.as_str()).await?;
    let [layer] = manifest.layers.as_slice() else {
        return Err(Error::Registry(pyoci_oci::OciError::InvalidResponse(
            format!(
                "the manifest of `{filename}` has {} layers; a PyOCI file has exactly one",
                manifest.layers.len()
            ),
        )));
    };

    let mut response = if head_only {
        Response::new(Body::empty())
    } else {
        let blob = oci.get_blob(&repo, &layer.digest).await?;
        Response::new(Body::new(blob.into_body()))
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(layer.size));
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{}\"", file)) {
        headers.insert(header::CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}
