//! `DELETE /<registry>/<namespace>/<project>/<filename>`: removes one file.

use http::{Response, StatusCode};
use pyoci_basic_auth::Credentials;

use super::{
    index_writer::{edit_index, EditOutcome, IndexEdit},
    project_file, repository, text,
};
use crate::{app::App, body::Body, error::Error, package::ProjectName, route::Target};

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
