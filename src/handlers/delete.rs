//! `DELETE /<registry>/<namespace>/<project>/<filename>`: removes one file.
//! `DELETE /<registry>/<namespace>/<project>/<version>`: removes a version with all its files,
//! as the original PyOCI does.

use http::{Response, StatusCode};

use super::{project_file, text};
use crate::{body::Body, error::Error, package::PackageVersion, store::Repository};

/// Takes the file out of its version's index; the version's other files stay. When it was
/// the last file, the index itself is deleted, which removes the tag.
pub async fn delete_file(
    repository: Repository,
    filename: String,
) -> Result<Response<Body>, Error> {
    let file = project_file(repository.name(), &filename)?;
    let repo = repository.path();
    if !repository.delete_file(&file).await? {
        return Err(Error::NotFound(format!("no file `{filename}` in `{repo}`")));
    }
    tracing::info!(%repo, %filename, "deleted file");
    Ok(text(StatusCode::OK, format!("deleted {filename}")))
}

/// Deletes the version's index, which removes its tag and so the version with all its files,
/// then the files' manifests, so the registry may reclaim them.
pub async fn delete_version(
    repository: Repository,
    version: String,
) -> Result<Response<Body>, Error> {
    let version = PackageVersion::parse(&version)?;
    let (name, repo) = (repository.name(), repository.path());
    let Some(files) = repository.delete_version(&version).await? else {
        return Err(Error::NotFound(format!(
            "no version {version} of `{name}` in `{repo}`"
        )));
    };
    tracing::info!(%repo, %version, files, "deleted version");
    Ok(text(
        StatusCode::OK,
        format!("deleted version {version} of {name} ({files} files)"),
    ))
}
