//! `pyoci_events::changed_repositories` on raw bodies for every source, and on generic
//! `{"repositories": [...]}` calls built from arbitrary names.
//!
//! Properties: it never panics; what it returns is a list of distinct, lowercase, valid OCI
//! repository names (checked here by a grammar written apart from the crate's); for a generic
//! call it returns exactly the lowercased names, deduplicated in order, when all of them are
//! valid, and refuses the call naming an invalid one otherwise.

use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderValue};
use pyoci_events::{changed_repositories, EventError, Source};

#[derive(Arbitrary, Debug)]
pub struct Input<'a> {
    pub body: &'a [u8],
    pub github_event: GitHubEvent<'a>,
    pub names: Vec<&'a str>,
}

/// The `X-GitHub-Event` header sent along.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum GitHubEvent<'a> {
    None,
    RegistryPackage,
    Package,
    Ping,
    Other(&'a [u8]),
}

impl GitHubEvent<'_> {
    fn headers(self) -> HeaderMap {
        let value = match self {
            GitHubEvent::None => None,
            GitHubEvent::RegistryPackage => Some(HeaderValue::from_static("registry_package")),
            GitHubEvent::Package => Some(HeaderValue::from_static("package")),
            GitHubEvent::Ping => Some(HeaderValue::from_static("ping")),
            GitHubEvent::Other(raw) => HeaderValue::from_bytes(raw).ok(),
        };
        let mut headers = HeaderMap::new();
        if let Some(value) = value {
            headers.insert("x-github-event", value);
        }
        headers
    }
}

/// Checks the properties above on one input; panics when one does not hold.
pub fn check(input: Input<'_>) {
    let headers = input.github_event.headers();
    for source in Source::ALL {
        if let Ok(repositories) = changed_repositories(source, input.body, &headers) {
            assert_repository_list(&repositories, source);
        }
    }

    let body = serde_json::json!({ "repositories": input.names }).to_string();
    let lowered: Vec<String> = input
        .names
        .iter()
        .map(|name| name.to_ascii_lowercase())
        .collect();
    let result = changed_repositories(Source::Changed, body.as_bytes(), &HeaderMap::new());
    match lowered.iter().find(|name| !valid_repository(name)) {
        None => {
            let mut expected: Vec<String> = Vec::new();
            for name in lowered {
                if !expected.contains(&name) {
                    expected.push(name);
                }
            }
            assert_eq!(result, Ok(expected), "{body}");
        }
        Some(invalid) => match result {
            Err(EventError::InvalidRepository { name }) => {
                // The message shows the first invalid name, cut when long.
                let shown = name.trim_end_matches('…');
                assert!(invalid.starts_with(shown), "{name:?} for {invalid:?}");
            }
            other => panic!("{invalid:?} is invalid, yet {other:?} for {body}"),
        },
    }
}

fn assert_repository_list(repositories: &[String], source: Source) {
    for (index, name) in repositories.iter().enumerate() {
        assert!(valid_repository(name), "{source}: {name:?}");
        assert!(
            !repositories[..index].contains(name),
            "{source}: {name:?} twice"
        );
    }
}

/// The distribution spec's repository grammar, `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` per
/// `/`-separated component and 255 characters in all, checked by splitting each component
/// into runs of alphanumerics and of separators.
fn valid_repository(name: &str) -> bool {
    name.len() <= 255 && name.split('/').all(valid_component)
}

fn valid_component(component: &str) -> bool {
    let alphanumeric = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut runs: Vec<(bool, String)> = Vec::new();
    for c in component.chars() {
        match runs.last_mut() {
            Some((kind, run)) if *kind == alphanumeric(c) => run.push(c),
            _ => runs.push((alphanumeric(c), c.to_string())),
        }
    }
    let (Some(first), Some(last)) = (runs.first(), runs.last()) else {
        return false;
    };
    first.0
        && last.0
        && runs.iter().filter(|(kind, _)| !kind).all(|(_, separator)| {
            matches!(separator.as_str(), "." | "_" | "__") || separator.chars().all(|c| c == '-')
        })
}
