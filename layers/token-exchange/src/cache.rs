use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use http::HeaderValue;
use pyoci_core::Credentials;

use crate::challenge::Challenge;

/// Largest number of entries each table holds; beyond it the soonest-expiring entry goes.
pub(crate) const DEFAULT_CAPACITY: usize = 10_000;

/// Tables smaller than this are never shrunk (not worth the reallocation).
const SHRINK_FLOOR: usize = 64;

/// What a cached token is for: one origin, one set of credentials, one access.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct TokenKey {
    pub(crate) origin: OriginKey,
    pub(crate) access: String,
}

/// One set of credentials at one registry origin.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct OriginKey {
    pub(crate) origin: String,
    pub(crate) credentials: Credentials,
}

/// Registry tokens, and which origins want Basic credentials, shared by every clone of the
/// layer. The lock is only ever held for a map operation, never across an `.await`.
pub(crate) struct TokenCache {
    state: Mutex<State>,
    capacity: usize,
}

#[derive(Default)]
struct State {
    /// `Authorization: Bearer ...` values, marked sensitive, with the time they stop being used.
    tokens: HashMap<TokenKey, (HeaderValue, Instant)>,
    /// Origins that answered with a Basic challenge, until when to send Basic right away.
    basic_origins: HashMap<OriginKey, ((), Instant)>,
    /// The last Bearer challenge of each origin (`scheme://authority`), until when to ask
    /// its token service ahead of a request (see `ahead.rs`).
    bearer_realms: HashMap<String, (Challenge, Instant)>,
}

impl TokenCache {
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            state: Mutex::default(),
            capacity,
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the maps inconsistent: every update is one map call.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The live `Authorization` value for `key`, if any.
    pub(crate) fn token(&self, key: &TokenKey, now: Instant) -> Option<HeaderValue> {
        let state = self.state();
        let (header, expires_at) = state.tokens.get(key)?;
        (*expires_at > now).then(|| header.clone())
    }

    /// When the live token for `key` stops being used, if there is one.
    pub(crate) fn token_until(&self, key: &TokenKey, now: Instant) -> Option<Instant> {
        let state = self.state();
        let (_, expires_at) = state.tokens.get(key)?;
        (*expires_at > now).then_some(*expires_at)
    }

    pub(crate) fn insert_token(
        &self,
        key: TokenKey,
        header: HeaderValue,
        expires_at: Instant,
        now: Instant,
    ) {
        if expires_at <= now {
            return;
        }
        insert_bounded(
            &mut self.state().tokens,
            key,
            header,
            expires_at,
            now,
            self.capacity,
        );
    }

    pub(crate) fn evict_token(&self, key: &TokenKey) {
        self.state().tokens.remove(key);
    }

    pub(crate) fn uses_basic(&self, key: &OriginKey, now: Instant) -> bool {
        matches!(self.state().basic_origins.get(key), Some((_, until)) if *until > now)
    }

    pub(crate) fn remember_basic(&self, key: OriginKey, until: Instant, now: Instant) {
        insert_bounded(
            &mut self.state().basic_origins,
            key,
            (),
            until,
            now,
            self.capacity,
        );
    }

    pub(crate) fn forget_basic(&self, key: &OriginKey) {
        self.state().basic_origins.remove(key);
    }

    /// The Bearer challenge `origin` last sent, while remembered.
    pub(crate) fn bearer_realm(&self, origin: &str, now: Instant) -> Option<Challenge> {
        let state = self.state();
        let (challenge, until) = state.bearer_realms.get(origin)?;
        (*until > now).then(|| challenge.clone())
    }

    pub(crate) fn remember_bearer_realm(
        &self,
        origin: String,
        challenge: Challenge,
        until: Instant,
        now: Instant,
    ) {
        insert_bounded(
            &mut self.state().bearer_realms,
            origin,
            challenge,
            until,
            now,
            self.capacity,
        );
    }
}

impl Default for TokenCache {
    fn default() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("TokenCache")
            .field("tokens", &state.tokens.len())
            .field("basic_origins", &state.basic_origins.len())
            .field("bearer_realms", &state.bearer_realms.len())
            .finish()
    }
}

/// Inserts after dropping expired entries, then, if still full, the one expiring soonest.
fn insert_bounded<K: Hash + Eq + Clone, V>(
    map: &mut HashMap<K, (V, Instant)>,
    key: K,
    value: V,
    expires_at: Instant,
    now: Instant,
    capacity: usize,
) {
    map.retain(|_, (_, expiry)| *expiry > now);
    // After a burst of origins or users has expired, give the table's memory back.
    if map.capacity() > 4 * map.len().max(SHRINK_FLOOR) {
        map.shrink_to_fit();
    }
    while map.len() >= capacity.max(1) && !map.contains_key(&key) {
        let soonest = map
            .iter()
            .min_by_key(|(_, (_, expiry))| *expiry)
            .map(|(key, _)| key.clone());
        match soonest {
            Some(soonest) => map.remove(&soonest),
            None => break,
        };
    }
    map.insert(key, (value, expires_at));
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use pyoci_core::Secret;

    use super::*;

    fn key(user: &str, access: &str) -> TokenKey {
        TokenKey {
            origin: OriginKey {
                origin: "https://registry.test".into(),
                credentials: Credentials::Basic {
                    username: user.into(),
                    password: Secret::new("pw"),
                },
            },
            access: access.into(),
        }
    }

    fn header(value: &'static str) -> HeaderValue {
        HeaderValue::from_static(value)
    }

    #[test]
    fn tokens_expire() {
        let cache = TokenCache::default();
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        cache.insert_token(key("a", "pull"), header("Bearer 1"), later, now);
        assert_eq!(
            cache.token(&key("a", "pull"), now),
            Some(header("Bearer 1"))
        );
        assert_eq!(cache.token(&key("a", "pull"), later), None);
        assert_eq!(cache.token(&key("b", "pull"), now), None);
        assert_eq!(cache.token(&key("a", "push"), now), None);
    }

    #[test]
    fn already_expired_tokens_are_not_stored() {
        let cache = TokenCache::default();
        let now = Instant::now();
        cache.insert_token(key("a", "pull"), header("Bearer 1"), now, now);
        assert_eq!(cache.token(&key("a", "pull"), now), None);
    }

    #[test]
    fn eviction() {
        let cache = TokenCache::default();
        let now = Instant::now();
        cache.insert_token(
            key("a", "pull"),
            header("Bearer 1"),
            now + Duration::from_secs(9),
            now,
        );
        cache.evict_token(&key("a", "pull"));
        assert_eq!(cache.token(&key("a", "pull"), now), None);
    }

    #[test]
    fn size_is_bounded() {
        let cache = TokenCache::with_capacity(3);
        let now = Instant::now();
        for (index, access) in ["1", "2", "3", "4", "5"].into_iter().enumerate() {
            let expires_at = now + Duration::from_secs(100 - index as u64);
            cache.insert_token(key("a", access), header("Bearer x"), expires_at, now);
        }
        assert_eq!(cache.state().tokens.len(), 3);
        // Room was made by dropping the soonest-expiring entries ("3", then "4").
        assert!(cache.token(&key("a", "5"), now).is_some());
        assert!(cache.token(&key("a", "1"), now).is_some());
        assert!(cache.token(&key("a", "2"), now).is_some());
        assert!(cache.token(&key("a", "3"), now).is_none());
        assert!(cache.token(&key("a", "4"), now).is_none());
    }

    #[test]
    fn expired_entries_are_dropped_on_insert() {
        let cache = TokenCache::default();
        let now = Instant::now();
        cache.insert_token(
            key("a", "1"),
            header("Bearer x"),
            now + Duration::from_secs(1),
            now,
        );
        let later = now + Duration::from_secs(2);
        cache.insert_token(
            key("a", "2"),
            header("Bearer y"),
            later + Duration::from_secs(1),
            later,
        );
        assert_eq!(cache.state().tokens.len(), 1);
    }

    #[test]
    fn memory_is_given_back_once_a_burst_expired() {
        let cache = TokenCache::default();
        let now = Instant::now();
        let soon = now + Duration::from_secs(1);
        for n in 0..5_000 {
            cache.insert_token(key("a", &n.to_string()), header("Bearer x"), soon, now);
        }
        assert!(cache.state().tokens.capacity() >= 5_000);
        let later = soon + Duration::from_secs(1);
        let expires = later + Duration::from_secs(60);
        cache.insert_token(key("b", "pull"), header("Bearer y"), expires, later);
        let state = cache.state();
        assert_eq!(state.tokens.len(), 1);
        assert!(
            state.tokens.capacity() < 4 * SHRINK_FLOOR,
            "{}",
            state.tokens.capacity()
        );
    }

    #[test]
    fn basic_origins_are_remembered_until_forgotten() {
        let cache = TokenCache::default();
        let now = Instant::now();
        let origin = key("a", "").origin;
        assert!(!cache.uses_basic(&origin, now));
        cache.remember_basic(origin.clone(), now + Duration::from_secs(5), now);
        assert!(cache.uses_basic(&origin, now));
        assert!(!cache.uses_basic(&key("b", "").origin, now));
        assert!(!cache.uses_basic(&origin, now + Duration::from_secs(5)));
        cache.forget_basic(&origin);
        assert!(!cache.uses_basic(&origin, now));
    }
}
