//! `POST /<registry>/<namespace>/<project>/+yank/<version or filename>` (and `+unyank`):
//! PEP 592 yanking. A yanked file stays downloadable, but installers skip it unless a
//! requirement pins it exactly.
//!
//! The body may be empty or JSON `{"reason": "..."}`. Yanking rewrites the version's index,
//! which the registry allows only to users with push rights on the repository: the registry
//! decides who may yank, not PyOCI.

use bytes::Bytes;
use http::{header, HeaderValue, Response};
use http_body_util::{BodyExt, Limited};
use pyoci_basic_auth::Credentials;
use pyoci_body_timeout::is_idle_timeout;
use serde::Deserialize;

use super::{
    index_writer::{edit_index, EditOutcome, IndexEdit},
    repository,
};
use crate::{
    app::App,
    body::Body,
    error::{body_timed_out, Error},
    layout,
    package::{DistFilename, PackageVersion, ProjectName},
    route::Target,
};

/// Largest yank request body: a reason, not a file.
const MAX_BODY: usize = 64 * 1024;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct YankRequest {
    #[serde(default)]
    reason: Option<String>,
}

/// Yanks (`yank = true`) or un-yanks one file, or every file of a version.
pub async fn yank(
    app: &App,
    target: Target,
    project: String,
    what: String,
    yank: bool,
    credentials: Credentials,
    body: Body,
) -> Result<Response<Body>, Error> {
    let name = ProjectName::parse(&project)?;
    let reason = read_reason(body).await?;
    let (version, architecture) = if what.ends_with(".whl") || what.ends_with(".tar.gz") {
        let file = DistFilename::parse(&what)?;
        if file.name() != &name {
            return Err(Error::BadRequest(format!(
                "`{what}` is not a file of project `{name}`"
            )));
        }
        (file.version().clone(), Some(file.architecture().to_owned()))
    } else {
        (PackageVersion::parse(&what)?, None)
    };
    let oci = app.oci(&target, credentials);
    let repo = repository(&target, &name);
    let edit = IndexEdit::Annotate {
        architecture,
        key: layout::YANKED_ANNOTATION,
        value: yank.then(|| reason.clone().unwrap_or_default()),
    };
    let EditOutcome::Annotated(architectures) =
        edit_index(app, &oci, &repo, &version, edit).await?
    else {
        return Err(Error::NotFound(format!(
            "no `{what}` in project `{name}` ({repo})"
        )));
    };
    let files: Vec<String> = architectures
        .iter()
        .filter_map(|architecture| DistFilename::from_stored(&name, &version, architecture).ok())
        .map(|file| file.to_string())
        .collect();
    tracing::info!(%repo, %version, yank, "changed yank status");
    let document = serde_json::json!({
        "yanked": yank,
        "reason": if yank { reason } else { None },
        "files": files,
    });
    let mut response = Response::new(Body::from(document.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

async fn read_reason(body: Body) -> Result<Option<String>, Error> {
    let bytes: Bytes = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|err| {
            if is_idle_timeout(err.as_ref()) {
                Error::BodyTimedOut(body_timed_out(&err))
            } else {
                Error::BadRequest(format!("cannot read the yank request: {err}"))
            }
        })?
        .to_bytes();
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let request: YankRequest = serde_json::from_slice(&bytes).map_err(|err| {
        Error::BadRequest(format!(
            "the yank request body must be empty or JSON like {{\"reason\": \"...\"}}: {err}"
        ))
    })?;
    Ok(request.reason.filter(|reason| !reason.is_empty()))
}
