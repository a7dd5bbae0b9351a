//! `POST /<registry>/<namespace>/<project>/+yank/<version or filename>` (and `+unyank`):
//! PEP 592 yanking. A yanked file stays downloadable, but installers skip it unless a
//! requirement pins it exactly.
//!
//! The body may be empty or JSON `{"reason": "..."}`. Yanking rewrites the version's index,
//! which the registry allows only to users with push rights on the repository: the registry
//! decides who may yank, not PyOCI. It is asked first, also when the yank changes nothing.

use bytes::{Bytes, BytesMut};
use http::{header, HeaderValue, Response};
use http_body_util::BodyExt;
use pyoci_body_timeout::is_idle_timeout;
use serde::Deserialize;

use super::project_file;
use crate::{
    body::Body,
    error::{body_timed_out, exceeded_body_limit, Error},
    layout,
    package::{DistFilename, PackageVersion},
    store::{EditOutcome, IndexEdit, Repository},
};

/// Largest yank request body: a reason, not a file.
const MAX_BODY: usize = 64 * 1024;
/// How much of an oversized body is read and dropped before answering 413.
const MAX_DRAIN: usize = 1024 * 1024;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct YankRequest {
    #[serde(default)]
    reason: Option<String>,
}

/// Yanks (`yank = true`) or un-yanks one file, or every file of a version.
pub async fn yank(
    repository: Repository,
    what: String,
    yank: bool,
    body: Body,
) -> Result<Response<Body>, Error> {
    let (name, repo) = (repository.name(), repository.path());
    let reason = read_reason(body).await?;
    let (version, architecture) = if what.ends_with(".whl") || what.ends_with(".tar.gz") {
        // The same rule as download and delete for which file the name means.
        let file = project_file(name, &what)?;
        (file.version().clone(), Some(file.architecture().to_owned()))
    } else {
        (PackageVersion::parse(&what)?, None)
    };
    // A yank is judged as the write it asks for, whatever it finds: when the index already
    // says what was asked, nothing is written, and the registry would judge the caller on
    // reads alone (a puller would get 200).
    repository.check_push_rights().await?;
    let edit = IndexEdit::Annotate {
        architecture,
        key: layout::YANKED_ANNOTATION,
        value: yank.then(|| reason.clone().unwrap_or_default()),
    };
    let EditOutcome::Annotated(architectures) = repository.edit_index(&version, edit).await? else {
        return Err(Error::NotFound(format!(
            "no `{what}` in project `{name}` ({repo})"
        )));
    };
    let files: Vec<String> = architectures
        .iter()
        .filter_map(|architecture| DistFilename::from_stored(name, &version, architecture).ok())
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

async fn read_reason(mut body: Body) -> Result<Option<String>, Error> {
    let mut bytes = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| {
            if exceeded_body_limit(err.as_ref()) {
                too_large()
            } else if is_idle_timeout(err.as_ref()) {
                Error::BodyTimedOut(body_timed_out(&err))
            } else {
                Error::BadRequest(format!("cannot read the yank request: {err}"))
            }
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if bytes.len() + data.len() > MAX_BODY {
            // Whether the client said the length up front or sent it chunked, too much is
            // 413. Reading on a little lets a client that is still sending see the answer
            // instead of a reset connection.
            drain(&mut body, MAX_DRAIN).await;
            return Err(too_large());
        }
        bytes.extend_from_slice(&data);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let request: YankRequest = serde_json::from_slice(&bytes).map_err(|err| {
        Error::BadRequest(format!(
            "the yank request body must be empty or JSON like {{\"reason\": \"...\"}}: {err}"
        ))
    })?;
    let reason = request.reason.filter(|reason| !reason.is_empty());
    if let Some(reason) = &reason {
        layout::limits::YANK_REASON.check(reason)?;
    }
    Ok(reason)
}

fn too_large() -> Error {
    Error::TooLarge(format!(
        "the yank request is larger than {} KiB: send at most {{\"reason\": \"...\"}}",
        MAX_BODY / 1024
    ))
}

/// Reads and drops up to `limit` more bytes of `body`.
async fn drain(body: &mut Body, limit: usize) {
    let mut read = 0;
    while read < limit {
        match body.frame().await {
            Some(Ok(frame)) => read += frame.data_ref().map_or(0, Bytes::len),
            _ => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use futures_util::stream;
    use http::StatusCode;
    use http_body_util::{Full, StreamBody};

    use super::*;

    fn chunked(total: usize) -> Body {
        let chunks = (0..total / 1024).map(|_| {
            Ok::<_, std::io::Error>(http_body::Frame::data(Bytes::from(vec![b' '; 1024])))
        });
        Body::new(StreamBody::new(stream::iter(chunks)))
    }

    #[tokio::test]
    async fn oversized_bodies_are_413_with_or_without_a_length() {
        let sized = Body::new(Full::new(Bytes::from(vec![b' '; MAX_BODY + 1])));
        let streamed = chunked(MAX_BODY + 1024);
        for body in [sized, streamed] {
            let error = read_reason(body).await.unwrap_err();
            assert_eq!(error.status(), StatusCode::PAYLOAD_TOO_LARGE, "{error}");
            assert!(error.to_string().contains("64 KiB"), "{error}");
        }
    }

    #[tokio::test]
    async fn small_bodies_are_read() {
        assert_eq!(read_reason(chunked(2048)).await.unwrap(), None);
        let json = Body::from(r#"{"reason": "broken"}"#);
        assert_eq!(read_reason(json).await.unwrap().as_deref(), Some("broken"));
        let garbage = read_reason(Body::from("nope")).await.unwrap_err();
        assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn a_reason_over_its_bound_is_refused() {
        let body = |reason: &str| Body::from(serde_json::json!({ "reason": reason }).to_string());
        let longest = "x".repeat(1024);
        assert_eq!(
            read_reason(body(&longest)).await.unwrap().as_deref(),
            Some(longest.as_str())
        );
        let error = read_reason(body(&"x".repeat(1025))).await.unwrap_err();
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        assert_eq!(
            error.to_string(),
            "the yank reason is 1025 bytes long; PyOCI stores at most 1024 bytes. Nothing was \
             stored"
        );
    }
}
