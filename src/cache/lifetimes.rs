//! How long a cached entry may be given out: what it says about the registry's content,
//! and whom the registry accepted when it was read. The two have separate bounds, because
//! registry events can say when content changed but never who may read it.

use std::{
    collections::HashSet,
    sync::Arc,
    time::{Duration, Instant},
};

use pyoci_basic_auth::Credentials;

use super::{Project, Snapshot};

/// Until when the registry honours a caller's read of a project without being asked again:
/// the expiry of the registry token held for them there (see
/// `pyoci_token_exchange::HeldTokens`), if any.
pub type TokenWindow = Arc<dyn Fn(&Project, &Credentials) -> Option<Instant> + Send + Sync>;

/// The caches' lifetimes. See the module docs.
pub(super) struct Lifetimes {
    /// `PYOCI_CACHE_TTL`: content of registries without an event source, and every access
    /// decision the registry did not put a token's expiry on.
    pub(super) ttl: Duration,
    /// `PYOCI_EVENT_CACHE_TTL`: content of registries that announce their changes.
    event_ttl: Duration,
    /// Those registries, as their `Project::registry` is written.
    evented: HashSet<String>,
    tokens: Option<TokenWindow>,
}

impl Lifetimes {
    pub(super) fn new(ttl: Duration) -> Lifetimes {
        Lifetimes {
            ttl,
            event_ttl: ttl,
            evented: HashSet::new(),
            tokens: None,
        }
    }

    pub(super) fn with_events(
        mut self,
        registries: impl IntoIterator<Item = String>,
        event_ttl: Duration,
    ) -> Lifetimes {
        self.evented = registries
            .into_iter()
            .map(|registry| registry.to_ascii_lowercase())
            .collect();
        self.event_ttl = event_ttl.max(self.ttl);
        self
    }

    pub(super) fn with_tokens(mut self, tokens: TokenWindow) -> Lifetimes {
        self.tokens = Some(tokens);
        self
    }

    /// Whether `project`'s registry announces its changes to this process.
    pub(super) fn evented(&self, project: &Project) -> bool {
        self.evented.contains(&project.registry)
    }

    /// How long what a listing read of `project` stays fresh. With events, half the event
    /// TTL: a page is built from tags up to that old and lives up to that long itself, so a
    /// change whose event was lost shows within the event TTL.
    pub(super) fn content(&self, project: &Project) -> Duration {
        if self.evented(project) {
            self.event_ttl / 2
        } else {
            self.ttl
        }
    }

    /// How long any entry may be fresh: what a record of a write must outlive.
    pub(super) fn longest(&self) -> Duration {
        self.ttl.max(self.event_ttl)
    }

    /// Until when an entry of `project` read at `read` may be given out: to anyone for a
    /// shared entry (`credentials` `None`), or to `credentials` for an entry of theirs,
    /// whose acceptance by the registry lasts `PYOCI_CACHE_TTL`, or as long as the registry
    /// honours the token it gave them for the project.
    pub(super) fn until(
        &self,
        project: &Project,
        credentials: Option<&Credentials>,
        read: &Snapshot,
    ) -> Instant {
        let content = read.at + self.content(project);
        let Some(credentials) = credentials else {
            return content;
        };
        let by_ttl = read.at + self.ttl;
        if content <= by_ttl {
            // No token can carry an entry past its content's bound: nothing to ask (this
            // runs on every cache hit of every caller).
            return content;
        }
        let by_token = self
            .tokens
            .as_ref()
            .and_then(|tokens| tokens(project, credentials));
        content.min(by_token.map_or(by_ttl, |token| token.max(by_ttl)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Credentials {
        Credentials::Basic {
            username: "alice".into(),
            password: pyoci_basic_auth::Secret::new("right"),
        }
    }

    fn read_now() -> Snapshot {
        Snapshot {
            epoch: 0,
            at: Instant::now(),
            rereads_tags: false,
        }
    }

    #[test]
    fn events_lengthen_content_but_never_an_access_decision_without_a_token() {
        let (ttl, event_ttl) = (Duration::from_secs(5), Duration::from_secs(600));
        let lifetimes =
            Lifetimes::new(ttl).with_events(["http://Evented.test".to_owned()], event_ttl);
        let evented = Project::new("http://evented.test", "acme/demo");
        let quiet = Project::new("http://quiet.test", "acme/demo");
        let read = read_now();
        assert_eq!(
            lifetimes.until(&evented, None, &read),
            read.at + event_ttl / 2
        );
        assert_eq!(lifetimes.until(&quiet, None, &read), read.at + ttl);
        for project in [&evented, &quiet] {
            assert_eq!(
                lifetimes.until(project, Some(&alice()), &read),
                read.at + ttl
            );
        }
        assert_eq!(lifetimes.longest(), event_ttl);
    }

    #[test]
    fn a_held_token_lengthens_an_access_decision_up_to_the_content_bound() {
        let (ttl, event_ttl) = (Duration::from_secs(5), Duration::from_secs(600));
        let read = read_now();
        let token_until = read.at + Duration::from_secs(100);
        let lifetimes = Lifetimes::new(ttl)
            .with_events(["http://evented.test".to_owned()], event_ttl)
            .with_tokens(Arc::new(move |_, credentials| {
                (*credentials != Credentials::Anonymous).then_some(token_until)
            }));
        let evented = Project::new("http://evented.test", "acme/demo");
        let quiet = Project::new("http://quiet.test", "acme/demo");
        assert_eq!(
            lifetimes.until(&evented, Some(&alice()), &read),
            token_until
        );
        // Without events the content bound is the TTL, token or not.
        assert_eq!(
            lifetimes.until(&quiet, Some(&alice()), &read),
            read.at + ttl
        );
        let anonymous = Credentials::Anonymous;
        assert_eq!(
            lifetimes.until(&evented, Some(&anonymous), &read),
            read.at + ttl
        );
        // A token beyond the content bound does not carry content past it.
        let long = Lifetimes::new(ttl)
            .with_events(["http://evented.test".to_owned()], Duration::from_secs(60))
            .with_tokens(Arc::new(move |_, _| Some(token_until)));
        assert_eq!(
            long.until(&evented, Some(&alice()), &read),
            read.at + Duration::from_secs(30)
        );
    }
}
