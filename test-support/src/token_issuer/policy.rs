//! Who may do what: scopes as the registry asks for them, rules as the issuer grants them.

use serde::Serialize;

/// One entry of a token's `access` claim, and the parsed form of a `scope` parameter
/// (`repository:ns/name:pull,push`, `registry:catalog:*`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Access {
    /// `repository` or `registry`.
    #[serde(rename = "type")]
    pub resource_type: String,
    /// `ns/name` for a repository, `catalog` for the registry.
    pub name: String,
    /// `pull`, `push`, `delete`, `*`.
    pub actions: Vec<String>,
}

impl Access {
    /// Parses one scope, `type:name:actions`; the name may itself contain `:`
    /// (a registry host with a port), so the type ends at the first `:` and the actions
    /// start after the last one. `None` when that shape is missing.
    pub fn parse_scope(scope: &str) -> Option<Access> {
        let (resource_type, rest) = scope.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        if resource_type.is_empty() || name.is_empty() {
            return None;
        }
        Some(Access {
            resource_type: resource_type.to_owned(),
            name: name.to_owned(),
            actions: actions
                .split(',')
                .filter(|action| !action.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }
}

/// A permission the issuer grants a user (or anonymous clients).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// `None`: any resource of any type; `Some(prefix)`: repositories named `prefix...`.
    repository_prefix: Option<String>,
    /// Allowed actions; `*` allows every action.
    actions: Vec<String>,
}

impl Rule {
    /// Every action on every resource, the catalog included.
    pub fn everything() -> Rule {
        Rule {
            repository_prefix: None,
            actions: vec!["*".to_owned()],
        }
    }

    /// `actions` on the repositories whose name starts with `prefix` (`""` for all of them,
    /// `"public/"` for one namespace).
    pub fn repositories(prefix: &str, actions: &[&str]) -> Rule {
        Rule {
            repository_prefix: Some(prefix.to_owned()),
            actions: actions.iter().map(|action| (*action).to_owned()).collect(),
        }
    }

    fn covers(&self, access: &Access) -> bool {
        match &self.repository_prefix {
            None => true,
            Some(prefix) => {
                access.resource_type == "repository" && access.name.starts_with(prefix.as_str())
            }
        }
    }

    fn allows_action(&self, action: &str) -> bool {
        self.actions
            .iter()
            .any(|allowed| allowed == "*" || allowed == action)
    }
}

/// What a token may carry: for each requested scope, the requested actions some rule allows.
/// Scopes left with no action are dropped, as Docker's token servers do.
pub fn grant(requested: &[Access], rules: &[Rule]) -> Vec<Access> {
    requested
        .iter()
        .filter_map(|access| {
            let actions: Vec<String> = access
                .actions
                .iter()
                .filter(|action| {
                    rules
                        .iter()
                        .any(|rule| rule.covers(access) && rule.allows_action(action))
                })
                .cloned()
                .collect();
            (!actions.is_empty()).then(|| Access {
                actions,
                ..access.clone()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope(text: &str) -> Access {
        Access::parse_scope(text).unwrap()
    }

    #[test]
    fn parses_scopes() {
        assert_eq!(
            scope("repository:ns/x:pull,push"),
            Access {
                resource_type: "repository".into(),
                name: "ns/x".into(),
                actions: vec!["pull".into(), "push".into()],
            }
        );
        assert_eq!(scope("registry:catalog:*").actions, vec!["*"]);
        assert_eq!(
            scope("repository:host:5000/ns/x:pull").name,
            "host:5000/ns/x"
        );
        assert_eq!(scope("repository:ns/x:").actions, Vec::<String>::new());
        assert_eq!(Access::parse_scope("repository"), None);
        assert_eq!(Access::parse_scope("repository:ns/x"), None);
        assert_eq!(Access::parse_scope(":ns/x:pull"), None);
    }

    #[test]
    fn grants_the_intersection_of_requested_and_allowed() {
        let pull_only = [Rule::repositories("", &["pull"])];
        assert_eq!(
            grant(&[scope("repository:ns/x:pull,push")], &pull_only),
            vec![scope("repository:ns/x:pull")]
        );
        assert_eq!(grant(&[scope("repository:ns/x:push")], &pull_only), vec![]);
        assert_eq!(grant(&[scope("registry:catalog:*")], &pull_only), vec![]);
    }

    #[test]
    fn everything_grants_all_requested() {
        let requested = [
            scope("repository:ns/x:pull,push,delete"),
            scope("registry:catalog:*"),
        ];
        assert_eq!(grant(&requested, &[Rule::everything()]), requested.to_vec());
    }

    #[test]
    fn prefixes_limit_repositories() {
        let public_pull = [Rule::repositories("public/", &["pull"])];
        assert_eq!(
            grant(&[scope("repository:public/x:pull")], &public_pull),
            vec![scope("repository:public/x:pull")]
        );
        assert_eq!(
            grant(&[scope("repository:private/x:pull")], &public_pull),
            vec![]
        );
        assert_eq!(
            grant(&[scope("repository:publicx:pull")], &public_pull),
            vec![]
        );
        assert_eq!(grant(&[scope("repository:public/x:pull")], &[]), vec![]);
    }

    #[test]
    fn rules_add_up() {
        let rules = [
            Rule::repositories("", &["pull"]),
            Rule::repositories("team/", &["push"]),
        ];
        assert_eq!(
            grant(&[scope("repository:team/x:pull,push,delete")], &rules),
            vec![scope("repository:team/x:pull,push")]
        );
    }
}
