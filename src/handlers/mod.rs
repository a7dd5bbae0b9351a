//! One module per endpoint, and the [`Router`] that dispatches to them. Each handler takes
//! the parsed route and the caller's [`Repository`](crate::store::Repository) (built once by
//! the router), asks the store for what it needs, and renders a response or an [`Error`].

mod about;
mod delete;
mod dispatch;
mod file;
mod json;
mod list;
pub(crate) mod mirrored;
mod page;
#[cfg(test)]
mod tests;
mod upload;
mod yank;

pub use about::{about_namespace, about_project, Site};
pub use delete::{delete_file, delete_version};
pub use dispatch::Router;
pub use file::{get_file, FileRequest};
pub(crate) use json::json_document;
pub use json::project_json;
pub use list::project_list;
pub use page::project_page;
pub use upload::{UploadHandler, UploadTarget};
pub use yank::yank;

use crate::{
    error::Error,
    package::{DistFilename, ProjectName},
    route::Target,
};

/// A file named in a URL under `name`'s project page: 404 when it belongs to another project.
/// Download, delete and yank all resolve a file name here, so they agree on which spellings
/// name which file (see [`DistFilename`]'s equality).
pub(crate) fn project_file(name: &ProjectName, filename: &str) -> Result<DistFilename, Error> {
    let file = DistFilename::parse(filename)?;
    if file.name() != name {
        return Err(Error::NotFound(format!(
            "`{filename}` is not a file of project `{name}`"
        )));
    }
    Ok(file)
}

/// The URL path of a project page, under the prefix PyOCI is reached at.
pub(crate) fn project_path(target: &Target, name: &ProjectName) -> String {
    format!(
        "{}/{}/{}/{}/",
        target.link_base, target.registry_segment, target.namespace, name
    )
}

/// A permanent redirect, for unnormalized project names and missing trailing slashes.
pub(crate) fn redirect(location: &str) -> http::Response<crate::body::Body> {
    let mut response =
        http::Response::new(crate::body::Body::from(format!("moved to {location}\n")));
    *response.status_mut() = http::StatusCode::MOVED_PERMANENTLY;
    if let Ok(value) = http::HeaderValue::from_str(location) {
        response.headers_mut().insert(http::header::LOCATION, value);
    }
    response
}

/// A response carrying a page model for the index layer to render. Pages are cached by
/// clients only privately (they depend on credentials) and revalidated on every use: the
/// index layer gives them an `ETag`, so a revalidation of an unchanged page is a cheap 304,
/// and a new version shows as soon as PyOCI shows it (within `PYOCI_CACHE_TTL`).
pub(crate) fn index_page<T: Clone + Send + Sync + 'static>(
    model: T,
) -> http::Response<crate::body::Body> {
    let mut response = http::Response::new(crate::body::Body::empty());
    response.extensions_mut().insert(model);
    response.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("private, no-cache"),
    );
    response
}

/// A short plain-text success response.
pub(crate) fn text(status: http::StatusCode, message: String) -> http::Response<crate::body::Body> {
    pyoci_core::text_response::<crate::body::Body>(status, message).map(crate::body::Body::new)
}
