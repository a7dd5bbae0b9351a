//! `GET /<registry>/<namespace>/<project>/json`: the JSON the original PyOCI serves, which
//! Renovate reads for versions and project URLs.

use http::{header, HeaderValue, Response};
use pyoci_basic_auth::Credentials;
use serde_json::{json, Map, Value};

use super::{read_index, repository, versions};
use crate::{app::App, body::Body, error::Error, layout, package::ProjectName, route::Target};

/// `{"info": {"name", "project_urls"}, "releases": {"<version>": []}}`.
pub async fn project_json(
    app: &App,
    target: Target,
    project: String,
    credentials: Credentials,
) -> Result<Response<Body>, Error> {
    let name = ProjectName::parse(&project)?;
    let oci = app.oci(&target, credentials);
    let repo = repository(&target, &name);
    let versions = versions(&oci, &repo, app.config.max_versions).await?;
    let Some(newest) = versions.first() else {
        return Err(Error::NotFound(format!(
            "project `{name}` has no versions in `{repo}`"
        )));
    };
    let project_urls = match read_index(&oci, &repo, newest).await? {
        Some((index, _)) => index
            .manifests
            .iter()
            .find_map(|entry| entry.annotations.get(layout::PROJECT_URLS_ANNOTATION))
            .and_then(|urls| serde_json::from_str::<Map<String, Value>>(urls).ok())
            .unwrap_or_default(),
        None => Map::new(),
    };
    let releases: Map<String, Value> = versions
        .iter()
        .map(|version| (version.to_string(), json!([])))
        .collect();
    let document = json!({
        "info": { "name": name.normalized(), "project_urls": project_urls },
        "releases": releases,
    });
    let mut response = Response::new(Body::from(document.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(response)
}
