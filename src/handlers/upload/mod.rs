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

use bytes::Bytes;
use futures_util::TryStreamExt;
use http::{Request, Response, StatusCode};
use pyoci_basic_auth::Credentials;
use pyoci_metadata::{CoreMetadata, ExpectedRelease, MetadataHandle, MetadataTap};
use pyoci_oci::{Descriptor, Digest, ImageManifest};
use pyoci_upload::Upload;
use tower::Service;

use self::{
    digests::{DigestingStream, FileDigests, WantedDigests},
    fields::StoredFields,
    metadata::{check_declared_digests, check_form_agrees},
};
use super::{
    index_writer::{edit_index, EditOutcome, IndexEdit},
    repository, stored_entry, text, Oci,
};
use crate::{
    app::App,
    body::Body,
    error::Error,
    layout,
    package::{DistFilename, DistKind, PackageVersion, ProjectName},
    profile::Profile,
    route::Target,
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
    let oci = app.oci(&target, credentials);
    let repo = repository(&target, filename.name());

    // Starting a blob upload needs push rights, so the registry checks them before anything
    // else, even when the file turns out to exist already.
    let blob_upload = oci.start_blob_upload(&repo).await?;
    let (stored, current_index) = match stored_entry(&oci, &repo, &filename).await {
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

    let chunk_bytes = app.upload_chunk_bytes(oci.registry());
    let sent = match chunk_bytes {
        Some(chunk_bytes) => blob_upload.send_chunks(file, chunk_bytes).await,
        None => blob_upload.send_stream(file).await,
    };
    let blob_upload = match sent {
        Ok(blob_upload) => blob_upload,
        // When the client's body broke the stream, say so rather than blame the registry.
        Err(err) => match digests.failure() {
            Some(failure) => return Err(failure),
            // A streamed body cannot be sent again: the next upload goes in chunks.
            None if chunk_bytes.is_none() && app.fall_back_to_chunks(oci.registry(), &err) => {
                return Err(Error::Busy(format!(
                    "{err}; the registry, or a proxy in front of it, limits request sizes: \
                     PyOCI uploads to it in chunks from now on, upload again"
                )))
            }
            None => return Err(err.into()),
        },
    };
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
        let core = core_metadata(&metadata, &filename)?;
        let fields = StoredFields::read(&form, &core)?;
        let profile = app.profile(oci.registry());
        fields.check_room(current_index.as_ref(), profile, &repo, &filename, &received)?;
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

    let published = Received {
        filename: &filename,
        fields: &fields,
        digests: &received,
        core: &core,
        layer: layer_digest,
    };
    if let Some(stored_sha256) = publish(app, &oci, &repo, published).await? {
        // Another upload of this name won the race.
        return same_or_conflict(&filename, &stored_sha256, &received);
    }
    tracing::info!(%repo, %filename, size = received.size, "uploaded file");
    Ok(text(StatusCode::OK, format!("uploaded {filename}")))
}

/// A file whose blob is committed, with what is known about it.
struct Received<'a> {
    filename: &'a DistFilename,
    fields: &'a StoredFields,
    digests: &'a FileDigests,
    core: &'a CoreMetadata,
    layer: Digest,
}

/// Makes a committed file visible: its config and manifest, then its entry in the version's
/// index. `Some(sha256)` when another upload of the same name got there first.
async fn publish(
    app: &App,
    oci: &Oci,
    repo: &str,
    file: Received<'_>,
) -> Result<Option<String>, Error> {
    let created = now();
    let profile = app.profile(oci.registry());
    let (manifest, stored_metadata) =
        match push_file_manifest(oci, repo, &file, profile, &created).await {
            // GitLab and Quay refuse media types they do not know: once, write the standard ones.
            Err(Error::Registry(refusal))
                if app.fall_back_to_conservative(oci.registry(), profile, &refusal) =>
            {
                push_file_manifest(oci, repo, &file, Profile::Conservative, &created).await?
            }
            pushed => pushed?,
        };
    let core_metadata_sha256 = stored_metadata.map(|core| core.sha256.clone());
    let facts = file
        .fields
        .facts(file.digests, created, core_metadata_sha256);
    let entry = layout::file_entry(manifest, file.filename.architecture(), facts);
    let edit = IndexEdit::AddFile(Box::new(entry));
    match edit_index(app, oci, repo, file.filename.version(), edit).await? {
        EditOutcome::NameTaken { stored_sha256 } => Ok(Some(stored_sha256)),
        _ => Ok(None),
    }
}

/// Pushes a file's config and manifest as `profile` says; returns the manifest's descriptor
/// and the core metadata stored as its config, if any.
async fn push_file_manifest<'a>(
    oci: &Oci,
    repo: &str,
    file: &Received<'a>,
    profile: Profile,
    created: &str,
) -> Result<(Descriptor, Option<&'a CoreMetadata>), Error> {
    // PEP 658 serves a wheel's METADATA; an sdist's PKG-INFO may list dynamic fields that
    // differ from what a build produces, so only wheels get a metadata file.
    let stored_metadata = (profile.stores_core_metadata()
        && file.filename.kind() == DistKind::Wheel)
        .then_some(file.core);
    let (config, config_bytes) = match stored_metadata {
        Some(core) => {
            let digest = Digest::from_hex(&core.sha256)?;
            let size = core.bytes.len() as u64;
            let config = Descriptor::new(layout::CORE_METADATA_MEDIA_TYPE, digest, size);
            (config, core.bytes.clone())
        }
        None => (Descriptor::empty_config(), Bytes::from_static(b"{}")),
    };
    let manifest = layout::file_manifest(
        profile,
        config.clone(),
        file.layer.clone(),
        file.digests.size,
        created,
        file.fields.labels.clone(),
    );
    let manifest = push_manifest(oci, repo, &manifest, &config, config_bytes).await?;
    Ok((manifest, stored_metadata))
}

/// Pushes the config blob, then the file's manifest. The distribution registry briefly
/// reports a blob as unknown while a concurrent upload commits the same bytes (the empty
/// config is shared by many files), so a manifest refused for that is pushed again.
async fn push_manifest(
    oci: &Oci,
    repo: &str,
    manifest: &ImageManifest,
    config: &Descriptor,
    config_bytes: Bytes,
) -> Result<Descriptor, Error> {
    const ATTEMPTS: u32 = 4;
    let mut attempt = 1;
    loop {
        oci.push_blob(repo, &config.digest, config_bytes.clone())
            .await?;
        match oci.put_image_manifest(repo, manifest).await {
            Err(err)
                if attempt < ATTEMPTS
                    && matches!(
                        err.code(),
                        Some("DIGEST_INVALID" | "MANIFEST_BLOB_UNKNOWN" | "BLOB_UNKNOWN")
                    ) =>
            {
                tracing::debug!(%repo, attempt, error = %err, "manifest refused; pushing again");
                tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(attempt))).await;
                attempt += 1;
            }
            result => return Ok(result?),
        }
    }
}

/// The file's own core metadata: a wheel's `.dist-info/METADATA` or an sdist's `PKG-INFO`,
/// which must be readable and name the same project and version as the filename. Anything
/// else is not a distribution (random bytes, an empty file, a zip without metadata), and is
/// refused, whatever the registry's profile, before anything becomes visible.
fn core_metadata(
    metadata: &MetadataHandle,
    filename: &DistFilename,
) -> Result<CoreMetadata, Error> {
    let expected = match filename.kind() {
        DistKind::Wheel => format!(
            "a wheel must hold `{}-{}.dist-info/METADATA`",
            filename.name().oci_name(),
            filename.version()
        ),
        DistKind::Sdist => format!(
            "an sdist must be a gzipped tar holding `{}-{}/PKG-INFO`",
            filename.name().oci_name(),
            filename.version()
        ),
    };
    let not_a_distribution = |why: String| {
        Error::BadRequest(format!(
            "{filename} is not a valid distribution: {why}; {expected} that names the project \
             and version. Nothing was stored"
        ))
    };
    let core = match metadata.result() {
        Ok(Some(core)) => core,
        Ok(None) => {
            return Err(not_a_distribution(
                "its core metadata file is missing".into(),
            ))
        }
        Err(err) => {
            return Err(not_a_distribution(format!(
                "its core metadata cannot be read ({err})"
            )))
        }
    };
    for (field, value) in [
        ("Metadata-Version", &core.metadata_version),
        ("Name", &core.name),
        ("Version", &core.version),
    ] {
        if value.is_none() {
            return Err(not_a_distribution(format!(
                "its core metadata has no `{field}` field"
            )));
        }
    }
    if let Some(name) = &core.name {
        if ProjectName::parse(name).ok().as_ref() != Some(filename.name()) {
            return Err(Error::BadRequest(format!(
                "the file's metadata names the project `{name}`, but the file is {filename}"
            )));
        }
    }
    if let Some(version) = &core.version {
        let same = PackageVersion::parse(version)
            .is_ok_and(|version| version.tag() == filename.version().tag());
        if !same {
            return Err(Error::BadRequest(format!(
                "the file's metadata says version `{version}`, but the file is {filename}"
            )));
        }
    }
    Ok(core)
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
