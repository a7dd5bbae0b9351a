//! `POST /<registry>/<namespace>/`: the legacy upload API twine, uv and poetry speak.
//!
//! The file streams from the client to a registry blob upload while it is hashed; nothing is
//! made visible until the blob is committed, its manifest pushed and the version's index
//! rewritten, so a failed or mismatching upload leaves nothing a listing would show.

mod digests;
mod fields;
mod metadata;

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use futures_util::TryStreamExt;
use http::{Request, Response, StatusCode};
use pyoci_basic_auth::Credentials;
use pyoci_metadata::{ExpectedRelease, MetadataTap};
use pyoci_oci::Digest;
use pyoci_upload::Upload;
use tower::Service;

use self::{
    digests::{DigestingStream, FileDigests, WantedDigests},
    fields::StoredFields,
    metadata::{check_declared_digests, check_form_agrees},
};
use super::text;
use crate::{
    app::App,
    body::Body,
    error::Error,
    layout,
    package::DistFilename,
    route::Target,
    store::{checked_core_metadata, NewFile},
};

/// The upload's namespace, put in the request extensions by the router.
#[derive(Clone, Debug)]
pub struct UploadTarget(pub Target);

/// The upload endpoint as a service over a parsed [`Upload`] body.
#[derive(Clone)]
pub struct UploadHandler {
    app: Arc<App>,
}

impl UploadHandler {
    pub fn new(app: Arc<App>) -> Self {
        UploadHandler { app }
    }
}

impl Service<Request<Upload>> for UploadHandler {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Upload>) -> Self::Future {
        let app = self.app.clone();
        Box::pin(async move {
            let (parts, upload) = request.into_parts();
            let credentials = parts
                .extensions
                .get::<Credentials>()
                .cloned()
                .unwrap_or_default();
            let Some(UploadTarget(target)) = parts.extensions.get::<UploadTarget>().cloned() else {
                return Ok(Error::NotFound("no upload target".into()).into_response());
            };
            Ok(upload_file(&app, target, credentials, upload)
                .await
                .unwrap_or_else(Error::into_response))
        })
    }
}

async fn upload_file(
    app: &App,
    target: Target,
    credentials: Credentials,
    mut upload: Upload,
) -> Result<Response<Body>, Error> {
    let file = upload.next_file().await?;
    let filename = DistFilename::parse(file.filename())?;
    check_form_agrees(upload.form(), &filename)?;
    StoredFields::check_form(upload.form())?;
    // The project is named by the file, not the URL: so the repository is built here, not
    // by the router.
    let repository = app
        .store
        .repository(&target, filename.name().clone(), credentials);
    let repo = repository.path();

    // The registry judges the right to push first, even when the file turns out to exist
    // already.
    let blob_upload = repository.start_upload().await?;
    let (stored, current_index) = match repository.stored_entry(&filename).await {
        Ok(found) => found,
        Err(err) => {
            blob_upload.cancel().await;
            return Err(err);
        }
    };
    let wanted = WantedDigests::declared_in(upload.form());
    // A file already stored is compared with the one received, not committed, so no registry
    // checks the declared sha256: it is computed here.
    let wanted = match stored {
        Some(_) => wanted.hashing_sha256(),
        None => wanted,
    };
    let (file, digests) = DigestingStream::new(file, wanted);
    let (file, metadata) = MetadataTap::new(
        file,
        filename.kind(),
        Some(ExpectedRelease::new(
            filename.name().normalized(),
            filename.version().to_string(),
        )),
    );
    if let Some(stored) = stored {
        let stored_sha256 = layout::stored_sha256(&stored);
        blob_upload.cancel().await;
        if let Err(err) = file.try_for_each(|_| async { Ok(()) }).await {
            return Err(digests.failure().unwrap_or_else(|| err.into()));
        }
        let form = upload.finish().await?;
        let received = digests.result()?;
        check_declared_digests(&form, &received)?;
        return same_or_conflict(&filename, &stored_sha256, &received);
    }

    // When the client's body broke the stream, say so rather than blame the registry.
    let blob_upload = repository
        .send_file(blob_upload, file, || digests.failure())
        .await?;
    let checked = async {
        // A client body that broke off (stalled, too large, cut) is the cause of whatever
        // the multipart parser says next.
        if let Some(failure) = digests.failure() {
            return Err(failure);
        }
        let form = upload.finish().await?;
        let received = digests.result()?;
        check_form_agrees(&form, &filename)?;
        check_declared_digests(&form, &received)?;
        let core = checked_core_metadata(&metadata, &filename)?;
        let fields = StoredFields::read(&form, &core)?;
        let profile = repository.write_profile();
        fields.check_room(current_index.as_ref(), profile, repo, &filename, &received)?;
        Ok::<_, Error>((received, core, fields))
    };
    let (received, core, fields) = match checked.await {
        Ok(checked) => checked,
        Err(err) => {
            blob_upload.cancel().await;
            return Err(err);
        }
    };
    let layer_digest = Digest::from_hex(&received.sha256)?;
    match blob_upload.commit(&layer_digest).await {
        Err(refusal)
            if received.registry_checks_sha256 && refusal.code() == Some("DIGEST_INVALID") =>
        {
            return Err(Error::BadRequest(format!(
                "sha256_digest mismatch: the form declares {} but the registry found the file \
                 received hashes otherwise; the upload was corrupted or the form is wrong, \
                 nothing was stored",
                received.sha256
            )))
        }
        committed => committed?,
    };

    let published = NewFile {
        filename: &filename,
        blob: layer_digest,
        facts: fields.facts(&received, now()),
        labels: fields.labels.clone(),
        core: &core,
    };
    if let Some(stored_sha256) = repository.publish(published).await? {
        // Another upload of this name won the race.
        return same_or_conflict(&filename, &stored_sha256, &received);
    }
    tracing::info!(%repo, %filename, size = received.size, "uploaded file");
    Ok(text(StatusCode::OK, format!("uploaded {filename}")))
}

/// PyPI's rule: the same bytes again are a success, other bytes under the name are refused.
fn same_or_conflict(
    filename: &DistFilename,
    stored_sha256: &str,
    received: &FileDigests,
) -> Result<Response<Body>, Error> {
    if stored_sha256.eq_ignore_ascii_case(&received.sha256) {
        Ok(text(
            StatusCode::OK,
            format!("{filename} already exists with the same content"),
        ))
    } else {
        Err(Error::Conflict(format!(
            "File already exists: {filename} is stored with other content. Files cannot be \
             replaced; publish a new version (or delete the file first)"
        )))
    }
}

fn now() -> String {
    humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string()
}
