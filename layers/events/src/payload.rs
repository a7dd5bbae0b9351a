//! What each source's notifications say changed. Pure functions of the body (and, for GitHub,
//! the event header), so that they can be fuzzed and tested without a service.

use std::collections::HashSet;

use http::HeaderMap;
use serde::{de::DeserializeOwned, Deserialize};

use crate::{EventError, Source};

/// The header naming a GitHub delivery's event (`registry_package`, `package`, `ping`, ...).
pub(crate) const GITHUB_EVENT: &str = "x-github-event";

/// The longest OCI repository name (the distribution spec's limit, host excluded).
const MAX_REPOSITORY_LEN: usize = 255;

/// The repositories a notification of `source` names as changed: lowercased, each a valid
/// OCI repository name, deduplicated, in the order the notification names them.
///
/// Only changes that alter what a listing shows count: a manifest pushed or anything
/// deleted. Pulls, mounts, blob pushes, scans and pings name nothing. An empty list is a
/// valid notification that changed nothing.
///
/// # Errors
///
/// [`EventError::InvalidPayload`] when the body is not what `source` sends, and
/// [`EventError::InvalidRepository`] when a change names something that is not a repository
/// name (the whole notification is refused then, so nothing is passed on half-checked).
pub fn changed_repositories(
    source: Source,
    body: &[u8],
    headers: &HeaderMap,
) -> Result<Vec<String>, EventError> {
    let named = match source {
        Source::Distribution => distribution(body)?,
        Source::GitHub => github(body, headers)?,
        Source::Harbor => harbor(body)?,
        Source::Acr => acr(body)?,
        Source::Changed => parse::<Changed>(source, body)?.repositories,
    };
    let mut seen = HashSet::with_capacity(named.len());
    let mut repositories = Vec::with_capacity(named.len());
    for name in named {
        let name = name.to_ascii_lowercase();
        if !is_repository_name(&name) {
            return Err(EventError::invalid_repository(&name));
        }
        if seen.insert(name.clone()) {
            repositories.push(name);
        }
    }
    Ok(repositories)
}

/// `body` as JSON of type `T`, or the reason it is not, as `source`'s payload error.
fn parse<T: DeserializeOwned>(source: Source, body: &[u8]) -> Result<T, EventError> {
    serde_json::from_slice(body).map_err(|error| EventError::payload(source, error.to_string()))
}

/// The repository named by a change, or a payload error naming what is missing.
fn required(source: Source, repository: Option<String>, what: &str) -> Result<String, EventError> {
    repository.ok_or_else(|| EventError::payload(source, format!("{what} names no repository")))
}

// --- distribution ------------------------------------------------------------------------
// The CNCF registry posts an envelope `{"events": [...]}` (media type
// application/vnd.docker.distribution.events.v1+json); each event has an `action` and a
// `target` describing the manifest or blob it concerns.

#[derive(Deserialize)]
struct Envelope {
    events: Vec<DistributionEvent>,
}

#[derive(Deserialize)]
struct DistributionEvent {
    action: String,
    target: Option<DistributionTarget>,
}

#[derive(Deserialize)]
struct DistributionTarget {
    repository: Option<String>,
    url: Option<String>,
}

fn distribution(body: &[u8]) -> Result<Vec<String>, EventError> {
    let source = Source::Distribution;
    let envelope: Envelope = parse(source, body)?;
    let mut named = Vec::new();
    for event in envelope.events {
        let target = || {
            event.target.ok_or_else(|| {
                EventError::payload(source, format!("a {} event has no target", event.action))
            })
        };
        match event.action.as_str() {
            "push" => {
                let target = target()?;
                // A blob on its own changes no listing: the manifest (or tag) pushed after it
                // does, and comes as its own event. A push without a URL counts, to be safe.
                let blob = target
                    .url
                    .as_deref()
                    .is_some_and(|url| url.contains("/blobs/"));
                if !blob {
                    named.push(required(source, target.repository, "a push event")?);
                }
            }
            // Manifests, tags and blobs alike: a deleted blob can leave a listed file without
            // its data, so every delete counts.
            "delete" => named.push(required(source, target()?.repository, "a delete event")?),
            // `pull` and `mount` (a blob linked from another repository, before a manifest
            // refers to it) change no listing; actions added later are ignored likewise.
            _ => {}
        }
    }
    Ok(named)
}

// --- GitHub -------------------------------------------------------------------------------
// `registry_package` (and the older `package`) webhooks of ghcr.io: the package's `namespace`
// (its owner) and `name` give the repository `<owner>/<name>`.

#[derive(Deserialize)]
struct GitHubDelivery {
    action: Option<String>,
    registry_package: Option<GitHubPackage>,
    package: Option<GitHubPackage>,
}

#[derive(Deserialize)]
struct GitHubPackage {
    name: Option<String>,
    namespace: Option<String>,
    package_type: Option<String>,
    ecosystem: Option<String>,
    owner: Option<GitHubOwner>,
}

#[derive(Deserialize)]
struct GitHubOwner {
    login: Option<String>,
}

fn github(body: &[u8], headers: &HeaderMap) -> Result<Vec<String>, EventError> {
    let source = Source::GitHub;
    let event = headers.get(GITHUB_EVENT).map(|value| value.as_bytes());
    match event {
        Some(b"registry_package" | b"package") | None => {}
        // A webhook subscribed to more than packages (pushes, issues, a ping): nothing a
        // listing shows changed, and answering an error would only mark the delivery failed.
        Some(_) => return Ok(Vec::new()),
    }
    let delivery: GitHubDelivery = parse(source, body)?;
    let package = match (event, delivery.registry_package, delivery.package) {
        (Some(b"package"), _, Some(package)) => package,
        (Some(b"registry_package") | None, Some(package), _) => package,
        (None, None, Some(package)) => package,
        _ => {
            return Err(EventError::payload(
                source,
                "it has no `registry_package` or `package` object",
            ))
        }
    };
    let changes = matches!(delivery.action.as_deref(), Some("published" | "updated"));
    let container = package
        .package_type
        .as_deref()
        .or(package.ecosystem.as_deref())
        .is_some_and(|kind| kind.eq_ignore_ascii_case("container"));
    if !changes || !container {
        return Ok(Vec::new());
    }
    // ghcr.io names a package `ghcr.io/<owner>/<name>`. `namespace` is the owner; in older
    // `package` deliveries it can be `<owner>/<repository>`, whose first part is the owner.
    let owner = package
        .namespace
        .as_deref()
        .and_then(|namespace| namespace.split('/').next())
        .filter(|owner| !owner.is_empty())
        .or(package
            .owner
            .as_ref()
            .and_then(|owner| owner.login.as_deref()));
    match (owner, package.name.as_deref()) {
        (Some(owner), Some(name)) if !name.is_empty() => Ok(vec![format!("{owner}/{name}")]),
        _ => Err(EventError::payload(
            source,
            "the package has no `namespace` (owner) or no `name`",
        )),
    }
}

// --- Harbor -------------------------------------------------------------------------------
// The Default payload format: `{"type": "PUSH_ARTIFACT", "event_data": {"repository":
// {"repo_full_name": "<project>/<name>", ...}, "resources": [...]}}`.

#[derive(Deserialize)]
struct HarborEvent {
    #[serde(rename = "type")]
    kind: String,
    event_data: Option<HarborData>,
}

#[derive(Deserialize)]
struct HarborData {
    repository: Option<HarborRepository>,
}

#[derive(Deserialize)]
struct HarborRepository {
    repo_full_name: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
}

fn harbor(body: &[u8]) -> Result<Vec<String>, EventError> {
    let source = Source::Harbor;
    let event: HarborEvent = parse(source, body)?;
    // Pulls, scans, quotas, replications and retention runs change no listing; a retention
    // run that deletes sends DELETE_ARTIFACT as well.
    if !matches!(event.kind.as_str(), "PUSH_ARTIFACT" | "DELETE_ARTIFACT") {
        return Ok(Vec::new());
    }
    let repository = event.event_data.and_then(|data| data.repository);
    let name = repository.and_then(|repository| match repository {
        HarborRepository {
            repo_full_name: Some(full),
            ..
        } => Some(full),
        HarborRepository {
            namespace: Some(namespace),
            name: Some(name),
            ..
        } => Some(format!("{namespace}/{name}")),
        _ => None,
    });
    Ok(vec![required(
        source,
        name,
        &format!("a {} event", event.kind),
    )?])
}

// --- ACR ----------------------------------------------------------------------------------
// `{"action": "push", "target": {"repository": "<name>", "tag": ...}, "request": {...}}`.

#[derive(Deserialize)]
struct AcrEvent {
    action: String,
    target: Option<AcrTarget>,
}

#[derive(Deserialize)]
struct AcrTarget {
    repository: Option<String>,
}

fn acr(body: &[u8]) -> Result<Vec<String>, EventError> {
    let source = Source::Acr;
    let event: AcrEvent = parse(source, body)?;
    // `quarantine`, Helm's `chart_push` / `chart_delete` and the portal's `ping` change no
    // listing of OCI artifacts.
    if !matches!(event.action.as_str(), "push" | "delete") {
        return Ok(Vec::new());
    }
    let repository = event.target.and_then(|target| target.repository);
    Ok(vec![required(
        source,
        repository,
        &format!("a {} event", event.action),
    )?])
}

// --- changed ------------------------------------------------------------------------------

#[derive(Deserialize)]
struct Changed {
    repositories: Vec<String>,
}

/// Whether `name` is an OCI repository name: `/`-separated components, each lowercase
/// letters and digits joined by `.`, `_`, `__` or one or more `-`, at most 255 characters
/// in all (the distribution spec's grammar).
fn is_repository_name(name: &str) -> bool {
    name.len() <= MAX_REPOSITORY_LEN && name.split('/').all(is_path_component)
}

fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alphanumeric = |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
    let mut at = 0;
    loop {
        // A run of letters and digits ...
        let start = at;
        while at < bytes.len() && alphanumeric(bytes[at]) {
            at += 1;
        }
        if at == start {
            return false;
        }
        if at == bytes.len() {
            return true;
        }
        // ... then one separator before the next run.
        let separator = at;
        while at < bytes.len() && !alphanumeric(bytes[at]) {
            at += 1;
        }
        match &component[separator..at] {
            "." | "_" | "__" => {}
            dashes if dashes.bytes().all(|byte| byte == b'-') => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    fn changed(source: Source, body: &str) -> Result<Vec<String>, EventError> {
        changed_repositories(source, body.as_bytes(), &HeaderMap::new())
    }

    fn github_event(event: &str, body: &str) -> Result<Vec<String>, EventError> {
        let mut headers = HeaderMap::new();
        headers.insert(GITHUB_EVENT, HeaderValue::from_str(event).expect("value"));
        changed_repositories(Source::GitHub, body.as_bytes(), &headers)
    }

    fn names(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| (*name).to_owned()).collect()
    }

    /// A distribution registry delivery: a layer pushed, then the manifest, a pull, a mount
    /// into another repository, and a tag deleted in a third.
    const DISTRIBUTION: &str = r#"{
      "events": [
        {
          "id": "5a1b9ce2-0001", "timestamp": "2024-05-02T10:11:12.000Z", "action": "push",
          "target": {
            "mediaType": "application/octet-stream", "size": 4211, "length": 4211,
            "digest": "sha256:1111111111111111111111111111111111111111111111111111111111111111",
            "repository": "acme/wheels",
            "url": "http://registry:5000/v2/acme/wheels/blobs/sha256:1111111111111111111111111111111111111111111111111111111111111111"
          },
          "request": {"id": "r-1", "addr": "10.0.0.7:51234", "host": "registry:5000", "method": "PUT", "useragent": "oras/1.2"},
          "actor": {"name": "ci"}, "source": {"addr": "registry:5000", "instanceID": "i-1"}
        },
        {
          "id": "5a1b9ce2-0002", "timestamp": "2024-05-02T10:11:13.000Z", "action": "push",
          "target": {
            "mediaType": "application/vnd.oci.image.index.v1+json", "size": 812, "length": 812,
            "digest": "sha256:2222222222222222222222222222222222222222222222222222222222222222",
            "repository": "acme/wheels", "tag": "1.0.0",
            "url": "http://registry:5000/v2/acme/wheels/manifests/sha256:2222222222222222222222222222222222222222222222222222222222222222"
          },
          "request": {"id": "r-2", "method": "PUT"}, "actor": {"name": "ci"}
        },
        {
          "id": "5a1b9ce2-0003", "action": "pull",
          "target": {"mediaType": "application/vnd.oci.image.index.v1+json", "repository": "acme/tools",
                     "url": "http://registry:5000/v2/acme/tools/manifests/1.0"}
        },
        {
          "id": "5a1b9ce2-0004", "action": "mount",
          "target": {"mediaType": "application/octet-stream", "repository": "acme/copy",
                     "url": "http://registry:5000/v2/acme/copy/blobs/sha256:33"}
        },
        {
          "id": "5a1b9ce2-0005", "action": "delete",
          "target": {"digest": "sha256:4444444444444444444444444444444444444444444444444444444444444444",
                     "repository": "acme/old-wheels", "tag": "0.9.0"}
        },
        {
          "id": "5a1b9ce2-0006", "action": "push",
          "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json", "repository": "acme/wheels",
                     "url": "http://registry:5000/v2/acme/wheels/manifests/sha256:55"}
        }
      ]
    }"#;

    #[test]
    fn distribution_manifest_pushes_and_deletes_change() {
        assert_eq!(
            changed(Source::Distribution, DISTRIBUTION),
            Ok(names(&["acme/wheels", "acme/old-wheels"]))
        );
    }

    #[test]
    fn distribution_blob_pushes_pulls_and_mounts_change_nothing() {
        let only_reads = r#"{"events": [
          {"action": "push", "target": {"repository": "acme/a", "url": "http://r/v2/acme/a/blobs/sha256:00"}},
          {"action": "pull", "target": {"repository": "acme/b", "url": "http://r/v2/acme/b/manifests/1"}},
          {"action": "mount", "target": {"repository": "acme/c"}},
          {"action": "pull"}
        ]}"#;
        assert_eq!(changed(Source::Distribution, only_reads), Ok(vec![]));
        assert_eq!(
            changed(Source::Distribution, r#"{"events": []}"#),
            Ok(vec![])
        );
    }

    #[test]
    fn distribution_payloads_of_another_shape_are_refused() {
        for body in [
            "",
            "[]",
            r#"{"event": []}"#,
            r#"{"events": [{"target": {"repository": "a"}}]}"#,
            r#"{"events": [{"action": "push"}]}"#,
            r#"{"events": [{"action": "delete", "target": {"digest": "sha256:00"}}]}"#,
        ] {
            assert!(
                matches!(
                    changed(Source::Distribution, body),
                    Err(EventError::InvalidPayload {
                        from: Source::Distribution,
                        ..
                    })
                ),
                "{body}"
            );
        }
    }

    /// A `registry_package` delivery as GitHub sends it when a container is pushed to ghcr.io.
    const GITHUB_PUBLISHED: &str = r#"{
      "action": "published",
      "registry_package": {
        "id": 4711, "name": "Wheels", "namespace": "Acme-Corp",
        "description": null, "ecosystem": "CONTAINER", "package_type": "CONTAINER",
        "html_url": "https://github.com/orgs/Acme-Corp/packages/container/package/Wheels",
        "created_at": "2024-05-02T10:11:12Z", "updated_at": "2024-05-02T10:11:12Z",
        "owner": {"login": "Acme-Corp", "id": 99, "type": "Organization"},
        "package_version": {
          "id": 1234, "version": "sha256:66", "name": "sha256:66",
          "package_url": "ghcr.io/acme-corp/wheels:1.0.0",
          "container_metadata": {"tag": {"name": "1.0.0", "digest": "sha256:66"}}
        },
        "registry": {"name": "GitHub CONTAINER registry", "type": "CONTAINER", "url": "https://ghcr.io/acme-corp", "vendor": "GitHub Inc"}
      },
      "repository": {"full_name": "Acme-Corp/wheels-src"},
      "sender": {"login": "octo"}
    }"#;

    #[test]
    fn github_container_publications_change_owner_slash_name() {
        let expected = Ok(names(&["acme-corp/wheels"]));
        assert_eq!(github_event("registry_package", GITHUB_PUBLISHED), expected);
        // Without the event header, the object in the body says which event it is.
        assert_eq!(changed(Source::GitHub, GITHUB_PUBLISHED), expected);
        let updated = GITHUB_PUBLISHED.replace("\"published\"", "\"updated\"");
        assert_eq!(github_event("registry_package", &updated), expected);
    }

    #[test]
    fn github_package_events_count_too() {
        let package = r#"{
          "action": "published",
          "package": {
            "id": 7, "name": "tools/builder", "namespace": "acme-corp/tools",
            "ecosystem": "CONTAINER", "package_type": "container",
            "owner": {"login": "acme-corp"}
          }
        }"#;
        assert_eq!(
            github_event("package", package),
            Ok(names(&["acme-corp/tools/builder"]))
        );
    }

    #[test]
    fn github_other_packages_actions_and_events_change_nothing() {
        let npm = GITHUB_PUBLISHED.replace("\"CONTAINER\"", "\"npm\"");
        assert_eq!(github_event("registry_package", &npm), Ok(vec![]));
        let default = GITHUB_PUBLISHED.replace("\"published\"", "\"default\"");
        assert_eq!(github_event("registry_package", &default), Ok(vec![]));
        assert_eq!(
            github_event("ping", r#"{"zen": "Speak like a human."}"#),
            Ok(vec![])
        );
        assert_eq!(
            github_event("push", r#"{"ref": "refs/heads/main"}"#),
            Ok(vec![])
        );
    }

    #[test]
    fn github_payloads_of_another_shape_are_refused() {
        for body in [
            r#"{"action": "published"}"#,
            r#"{"action": "published", "registry_package": {"package_type": "CONTAINER", "name": "x"}}"#,
            r#"{"action": "published", "registry_package": {"package_type": "CONTAINER", "namespace": "acme"}}"#,
            "not json",
        ] {
            assert!(
                matches!(
                    github_event("registry_package", body),
                    Err(EventError::InvalidPayload { .. })
                ),
                "{body}"
            );
        }
    }

    /// Harbor's Default-format webhook for a push to project `library`.
    const HARBOR_PUSH: &str = r#"{
      "type": "PUSH_ARTIFACT",
      "occur_at": 1714644672,
      "operator": "ci-robot",
      "event_data": {
        "resources": [{
          "digest": "sha256:77", "tag": "1.0.0",
          "resource_url": "harbor.example.com/library/wheels:1.0.0"
        }],
        "repository": {
          "date_created": 1714600000, "name": "wheels", "namespace": "library",
          "repo_full_name": "library/wheels", "repo_type": "private"
        }
      }
    }"#;

    #[test]
    fn harbor_pushes_and_deletes_change() {
        assert_eq!(
            changed(Source::Harbor, HARBOR_PUSH),
            Ok(names(&["library/wheels"]))
        );
        let delete = HARBOR_PUSH.replace("PUSH_ARTIFACT", "DELETE_ARTIFACT");
        assert_eq!(
            changed(Source::Harbor, &delete),
            Ok(names(&["library/wheels"]))
        );
        let without_full_name = HARBOR_PUSH.replace("\"repo_full_name\"", "\"other\"");
        assert_eq!(
            changed(Source::Harbor, &without_full_name),
            Ok(names(&["library/wheels"]))
        );
    }

    #[test]
    fn harbor_pulls_scans_and_quotas_change_nothing() {
        for kind in [
            "PULL_ARTIFACT",
            "SCANNING_COMPLETED",
            "QUOTA_EXCEED",
            "REPLICATION",
        ] {
            let event = HARBOR_PUSH.replace("PUSH_ARTIFACT", kind);
            assert_eq!(changed(Source::Harbor, &event), Ok(vec![]), "{kind}");
        }
        // A replication event carries no repository at all.
        assert_eq!(
            changed(
                Source::Harbor,
                r#"{"type": "REPLICATION", "event_data": {}}"#
            ),
            Ok(vec![])
        );
        assert!(matches!(
            changed(
                Source::Harbor,
                r#"{"type": "PUSH_ARTIFACT", "event_data": {}}"#
            ),
            Err(EventError::InvalidPayload { .. })
        ));
        assert!(matches!(
            changed(Source::Harbor, r#"{"specversion": "1.0"}"#),
            Err(EventError::InvalidPayload { .. })
        ));
    }

    /// An Azure Container Registry push webhook.
    const ACR_PUSH: &str = r#"{
      "id": "f0e1d2c3-0001",
      "timestamp": "2024-05-02T10:11:12.123456789Z",
      "action": "push",
      "target": {
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "size": 812, "length": 812, "digest": "sha256:88",
        "repository": "team/wheels", "tag": "1.0.0"
      },
      "request": {"id": "q-1", "host": "acme.azurecr.io", "method": "PUT", "useragent": "oras/1.2"}
    }"#;

    #[test]
    fn acr_pushes_and_deletes_change() {
        assert_eq!(changed(Source::Acr, ACR_PUSH), Ok(names(&["team/wheels"])));
        // Deleting a whole repository names only the repository.
        let delete = r#"{"id": "2", "action": "delete", "target": {"repository": "team/Old"}}"#;
        assert_eq!(changed(Source::Acr, delete), Ok(names(&["team/old"])));
    }

    #[test]
    fn acr_other_actions_change_nothing() {
        for action in ["quarantine", "chart_push", "ping"] {
            let event = ACR_PUSH.replace("\"push\"", &format!("\"{action}\""));
            assert_eq!(changed(Source::Acr, &event), Ok(vec![]), "{action}");
        }
        assert!(matches!(
            changed(Source::Acr, r#"{"action": "push", "target": {}}"#),
            Err(EventError::InvalidPayload { .. })
        ));
    }

    #[test]
    fn changed_lists_are_lowercased_and_deduplicated() {
        let body = r#"{"repositories": ["Acme/Demo", "acme/demo", "acme/tools", "acme/demo"], "by": "ci"}"#;
        assert_eq!(
            changed(Source::Changed, body),
            Ok(names(&["acme/demo", "acme/tools"]))
        );
        assert!(matches!(
            changed(Source::Changed, r#"{"repository": "acme/demo"}"#),
            Err(EventError::InvalidPayload { .. })
        ));
    }

    #[test]
    fn invalid_repository_names_are_refused_by_name() {
        for (name, shown) in [
            ("acme/../etc", "acme/../etc"),
            ("acme//demo", "acme//demo"),
            ("/acme", "/acme"),
            ("acme/demo/", "acme/demo/"),
            ("acme demo", "acme demo"),
            ("", ""),
            ("acme/-demo", "acme/-demo"),
            ("acme/demo.", "acme/demo."),
            ("acme/de___mo", "acme/de___mo"),
            ("acme/de.-mo", "acme/de.-mo"),
            ("acme/démo", "acme/démo"),
            ("ghcr.io:443/acme", "ghcr.io:443/acme"),
        ] {
            let body = serde_json::json!({ "repositories": ["acme/fine", name] }).to_string();
            assert_eq!(
                changed(Source::Changed, &body),
                Err(EventError::InvalidRepository {
                    name: shown.to_owned()
                }),
                "{name}"
            );
        }
        let event = DISTRIBUTION.replace("acme/old-wheels", "acme/Old Wheels");
        assert!(matches!(
            changed(Source::Distribution, &event),
            Err(EventError::InvalidRepository { .. })
        ));
    }

    #[test]
    fn the_repository_grammar() {
        for valid in [
            "a",
            "acme/demo",
            "a.b_c__d--e---f/0/x9",
            "library/python-3.12",
            &"a".repeat(255),
        ] {
            assert!(is_repository_name(valid), "{valid}");
        }
        for invalid in [
            &"a".repeat(256),
            "A",
            "a__",
            "_a",
            "a._b",
            "a-_b",
            "a:b",
            "a@b",
        ] {
            assert!(!is_repository_name(invalid), "{invalid}");
        }
    }
}
