use std::fmt;

/// What the client proved about itself, taken from its `Authorization` header.
///
/// The proxy forwards these to the registry; it never checks them itself.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub enum Credentials {
    /// No `Authorization` header: the registry decides what anonymous users may do.
    #[default]
    Anonymous,
    /// `Authorization: Basic` — a registry username and password or access token.
    Basic {
        /// The registry username; not secret, may appear in logs.
        username: String,
        /// The password or access token.
        password: Secret,
    },
    /// `Authorization: Bearer`, or a Basic password given for the configured bearer username:
    /// a registry token sent to the registry as it is.
    Bearer(Secret),
}

impl Credentials {
    /// A name safe to log: the username, `<bearer>` or `<anonymous>`.
    pub fn log_name(&self) -> &str {
        match self {
            Credentials::Anonymous => "<anonymous>",
            Credentials::Basic { username, .. } => username,
            Credentials::Bearer(_) => "<bearer>",
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"***")
                .finish(),
            Credentials::Bearer(_) => f.write_str("Bearer(***)"),
        }
    }
}

/// A password or token. `Debug` and `Display` never show it, so it cannot end up in a log line
/// by accident; call [`Secret::expose`] where the value must be sent.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Secret(String);

impl Secret {
    /// Wraps a password or token.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret value, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_secrets() {
        let basic = Credentials::Basic {
            username: "alice".into(),
            password: Secret::new("hunter2"),
        };
        let bearer = Credentials::Bearer(Secret::new("tok3n"));
        let printed = format!(
            "{basic:?} {bearer:?} {:?} {}",
            Secret::new("x1y2"),
            Secret::new("x1y2")
        );
        assert!(printed.contains("alice"));
        for secret in ["hunter2", "tok3n", "x1y2"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }
}
