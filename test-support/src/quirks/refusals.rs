//! What a front refuses before the registry sees it: pushes into repositories nobody
//! created (ECR, Harbor) and manifests a strict registry does not take (GitLab, Quay).

use http::{Response, StatusCode};

use super::{
    front::{lock, State},
    reply::{distribution_error, json, FrontBody},
    MissingRepository,
};

/// Config and artifact media types GitLab's (and Quay's default) allow-list knows, as far as
/// the reports show: image configs, the OCI empty config, Helm charts.
const KNOWN_MEDIA_TYPES: &[&str] = &[
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
    "application/vnd.oci.empty.v1+json",
    "application/vnd.cncf.helm.config.v1+json",
];

pub(super) fn missing_repository(
    state: &State,
    style: MissingRepository,
    repository: &str,
) -> Option<Response<FrontBody>> {
    let created = lock(&state.repositories);
    match style {
        MissingRepository::Ecr if !created.contains(repository) => Some(distribution_error(
            StatusCode::NOT_FOUND,
            "NAME_UNKNOWN",
            &format!(
                "The repository with name '{repository}' does not exist in the registry with id '123456789012'"
            ),
        )),
        MissingRepository::HarborProject => {
            let project = repository.split('/').next().unwrap_or_default();
            (!created.contains(project)).then(|| {
                distribution_error(
                    StatusCode::NOT_FOUND,
                    "NOT_FOUND",
                    &format!("project {project} not found"),
                )
            })
        }
        MissingRepository::Ecr => None,
    }
}

/// GitLab's and Quay's checks of a pushed manifest or index.
pub(super) fn check_manifest(state: &State, bytes: &[u8]) -> Option<Response<FrontBody>> {
    let manifest: serde_json::Value = serde_json::from_slice(bytes).ok()?;
    let invalid = |detail: String| {
        let body = serde_json::json!({"errors": [{
            "code": "MANIFEST_INVALID", "message": "manifest invalid", "detail": detail,
        }]});
        json(StatusCode::BAD_REQUEST, &body)
    };
    if state.quirks.known_media_types_only {
        let artifact_type = manifest["artifactType"].as_str();
        let config_type = manifest["config"]["mediaType"].as_str();
        for media_type in [artifact_type, config_type].into_iter().flatten() {
            if !KNOWN_MEDIA_TYPES.contains(&media_type) {
                return Some(invalid(format!("unknown media type: {media_type}")));
            }
        }
    }
    if state.quirks.index_entries_need_platform {
        let entries = manifest["manifests"].as_array();
        if entries.is_some_and(|entries| entries.iter().any(|entry| entry["platform"].is_null())) {
            return Some(invalid(
                "manifest data does not match schema: 'platform' is a required property".into(),
            ));
        }
    }
    None
}
