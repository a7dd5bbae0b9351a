//! `DELETE /<registry>/<namespace>/<project>/<filename>`: removes one file.
//! `DELETE /<registry>/<namespace>/<project>/<version>`: removes a version with all its files,
//! as the original PyOCI does.

use http::{Response, StatusCode};
use pyoci_basic_auth::Credentials;

use super::{
    index_writer::{edit_index, version_turn, EditOutcome, IndexEdit},
    project_file, read_index, repository, text,
};
use crate::{
    app::App,
    body::Body,
    error::Error,
    package::{PackageVersion, ProjectName},
    route::Target,
};

/// Takes the file out of its version's index; the version's other files stay. When it was
/// the last file, the index itself is deleted, which removes the tag.
pub async fn delete_file(
    app: &App,
    target: Target,
    project: String,
    filename: String,
    credentials: Credentials,
) -> Result<Response<Body>, Error> {
    let name = ProjectName::parse(&project)?;
    let file = project_file(&name, &filename)?;
    let oci = app.oci(&target, credentials);
    let repo = repository(&target, &name);
    let not_found = || Error::NotFound(format!("no file `{filename}` in `{repo}`"));
    let edit = IndexEdit::RemoveFile {
        architecture: file.architecture().to_owned(),
    };
    let outcome = edit_index(app, &oci, &repo, file.version(), edit).await?;
    let EditOutcome::Removed(removed) = outcome else {
        return Err(not_found());
    };
    // The file's manifest is unreferenced now; removing it lets the registry's garbage
    // collection reclaim the blob. Registries that refuse deletes keep it, harmlessly.
    if let Err(err) = oci.delete_manifest(&repo, &removed.digest).await {
        tracing::debug!(%repo, error = %err, "file manifest left in place");
    }
    tracing::info!(%repo, %filename, "deleted file");
    Ok(text(StatusCode::OK, format!("deleted {filename}")))
}

/// Deletes the version's index, which removes its tag and so the version with all its files,
/// then the files' manifests, so the registry may reclaim them. The index goes first: a
/// registry refusing deletes (405) refuses that, and nothing has changed.
pub async fn delete_version(
    app: &App,
    target: Target,
    project: String,
    version: String,
    credentials: Credentials,
) -> Result<Response<Body>, Error> {
    let name = ProjectName::parse(&project)?;
    let version = PackageVersion::parse(&version)?;
    let oci = app.oci(&target, credentials);
    let repo = repository(&target, &name);
    // Uploads to this version in this process wait until the version is gone.
    let _turn = version_turn(app, &oci, &repo, &version).await;
    // Listings in this process stop showing the version once this returns.
    let _invalidate = app
        .caches
        .invalidate_on_drop(crate::cache::Project::new(oci.registry(), &repo));
    let Some((index, digest)) = read_index(&oci, &repo, &version).await? else {
        return Err(Error::NotFound(format!(
            "no version {version} of `{name}` in `{repo}`"
        )));
    };
    oci.delete_manifest(&repo, &digest).await?;
    // Another writer may have tagged a new index meanwhile (an upload to this version): its
    // entries may name these manifests, so they stay then.
    if read_index(&oci, &repo, &version).await?.is_none() {
        for entry in &index.manifests {
            if let Err(err) = oci.delete_manifest(&repo, &entry.digest).await {
                tracing::debug!(%repo, error = %err, "file manifest left in place");
            }
        }
    }
    super::listing_document::record_version(app, &oci, &repo, &version).await;
    tracing::info!(%repo, %version, files = index.manifests.len(), "deleted version");
    Ok(text(
        StatusCode::OK,
        format!(
            "deleted version {version} of {name} ({} files)",
            index.manifests.len()
        ),
    ))
}
