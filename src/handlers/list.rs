//! `GET /<registry>/<namespace>/`: the projects of a namespace, from the registry catalog.

use http::Response;
use pyoci_basic_auth::Credentials;
use pyoci_index::ProjectList;
use pyoci_oci::OciError;

use crate::{app::App, body::Body, error::Error, package::ProjectName, route::Target};

/// Lists the repositories directly under the namespace as projects. The page itself is
/// rendered by the index layer from the [`ProjectList`] this puts in the response.
pub async fn project_list(
    app: &App,
    target: Target,
    credentials: Credentials,
) -> Result<Response<Body>, Error> {
    let repositories = app
        .store
        .oci(&target, credentials)
        .catalog()
        .await
        .map_err(|err| catalog_error(&target, err))?;
    let mut projects = projects_in(&target.namespace, &repositories);
    if projects.is_empty() {
        return Err(Error::NotFound(format!(
            "no projects in `{}` on {}",
            target.namespace, target.registry
        )));
    }
    projects.sort();
    projects.dedup();
    Ok(super::index_page(ProjectList::new(projects)))
}

/// A failed catalog read: for a registry without one, that the list is unavailable and what
/// still works.
pub(crate) fn catalog_error(target: &Target, err: OciError) -> Error {
    match err {
        OciError::NotFound { .. } | OciError::DeleteUnsupported => Error::NotFound(format!(
            "the registry {} does not list its repositories (no _catalog), so PyOCI cannot \
             list the projects of `{}`; project pages (/<registry>/<namespace>/<project>/) \
             still work",
            target.registry, target.namespace
        )),
        other => Error::Registry(other),
    }
}

/// The normalized names of the repositories exactly one level below `namespace`.
pub(crate) fn projects_in(namespace: &str, repositories: &[String]) -> Vec<String> {
    let prefix = format!("{namespace}/");
    repositories
        .iter()
        .filter_map(|repository| repository.strip_prefix(&prefix))
        .filter(|rest| !rest.contains('/'))
        .filter_map(|name| ProjectName::parse(name).ok())
        .map(|name| name.normalized().to_owned())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_only_direct_children_of_the_namespace() {
        let repositories: Vec<String> = [
            "acme/hello_world",
            "acme/team/other",
            "acmex/not_ours",
            "acme/Py.Lib",
            "elsewhere/acme/nope",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        assert_eq!(
            projects_in("acme", &repositories),
            ["hello-world", "py-lib"]
        );
        assert_eq!(projects_in("acme/team", &repositories), ["other"]);
    }
}
