//! A bound on the idle connections the HTTP client's pool keeps, over all registries.
//!
//! reqwest's pool caps idle connections per origin (`pool_max_idle_per_host`) and drops them
//! after `pool_idle_timeout`, but has no cap over all origins: every registry host a request
//! named keeps its connections until they time out, so requests to thousands of hosts (free
//! with wildcard DNS) hold thousands of sockets and their buffers. The pool cannot be asked
//! to close a connection, but a request can: one sent with `Connection: close` leaves no
//! idle connection behind. [`ConnectionBudget`] decides which requests may keep theirs.
//!
//! An origin's idle connections are never more than the most requests it had in flight at
//! once while its connections lived (a new connection is only opened when every existing
//! one is busy). So the budget gives each origin a number of *slots*: the most requests it
//! had in flight at once, at most the per-origin cap; slots over all origins are at most
//! the total. A request that would need a slot beyond either cap is sent with
//! `Connection: close`. An origin's slots are freed once it has had nothing in flight for
//! longer than the pool takes to drop idle connections.
//!
//! The HTTP client follows redirects itself, and each hop is a request to its own origin,
//! counted here like any other: a registry that sends every request to a new host gets
//! `Connection: close` on those hops once the total is reached, so they keep nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Idle connections kept per origin, at most.
pub const MAX_IDLE_PER_ORIGIN: usize = 32;
/// Idle connections kept over all origins, at most.
pub const MAX_IDLE_TOTAL: usize = 64;
/// How long an idle connection is kept before the pool closes it.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(15);

/// Decides which requests may leave an idle connection in the pool; shared by clones.
#[derive(Clone, Debug)]
pub(crate) struct ConnectionBudget {
    state: Arc<Mutex<State>>,
    per_origin: usize,
    total: usize,
    /// How long after its last request an origin may still have idle connections: the pool
    /// checks for expired connections once per idle timeout, so up to twice that.
    linger: Duration,
}

#[derive(Debug, Default)]
struct State {
    /// Origins with requests in flight or slots, keyed `scheme://authority` (the pool's key).
    origins: HashMap<String, OriginUse>,
    /// Slots over all origins.
    slots: usize,
}

#[derive(Debug)]
struct OriginUse {
    in_flight: usize,
    slots: usize,
    last_done: Instant,
}

impl OriginUse {
    fn new(now: Instant) -> Self {
        OriginUse {
            in_flight: 0,
            slots: 0,
            last_done: now,
        }
    }
}

impl ConnectionBudget {
    pub(crate) fn new(per_origin: usize, total: usize, pool_idle_timeout: Duration) -> Self {
        ConnectionBudget {
            state: Arc::default(),
            per_origin,
            total,
            linger: pool_idle_timeout * 2 + Duration::from_secs(1),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every update below leaves the counts consistent before it can panic.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a request to `origin` as in flight until the returned guard drops (when its
    /// response body is finished or dropped, which is when the pool takes the connection
    /// back). The guard says whether the connection may be kept.
    pub(crate) fn start(&self, origin: String, now: Instant) -> InFlight {
        let mut state = self.state();
        if state.slots >= self.total {
            self.free_lingering(&mut state, now);
        }
        let has_room = state.slots < self.total;
        let State { origins, slots } = &mut *state;
        let used = origins
            .entry(origin.clone())
            .or_insert_with(|| OriginUse::new(now));
        let keep_alive = if used.in_flight < used.slots {
            // A connection it already holds.
            true
        } else if has_room && used.slots < self.per_origin {
            used.slots += 1;
            *slots += 1;
            true
        } else {
            false
        };
        used.in_flight += 1;
        InFlight {
            budget: self.clone(),
            origin,
            keep_alive,
        }
    }

    fn finish(&self, origin: &str, now: Instant) {
        let mut state = self.state();
        let Some(used) = state.origins.get_mut(origin) else {
            return;
        };
        used.in_flight = used.in_flight.saturating_sub(1);
        used.last_done = now;
        if used.in_flight == 0 && used.slots == 0 {
            state.origins.remove(origin);
        }
    }

    /// Frees the slots of origins whose idle connections the pool has dropped by now.
    fn free_lingering(&self, state: &mut State, now: Instant) {
        let linger = self.linger;
        let mut freed = 0;
        state.origins.retain(|_, used| {
            let gone = used.in_flight == 0 && now.duration_since(used.last_done) >= linger;
            if gone {
                freed += used.slots;
            }
            !gone
        });
        state.slots -= freed;
        // A burst of origins leaves a large table behind; give the memory back.
        if state.origins.capacity() > 4 * state.origins.len().max(64) {
            state.origins.shrink_to_fit();
        }
    }

    #[cfg(test)]
    fn counts(&self) -> (usize, usize) {
        let state = self.state();
        (state.origins.len(), state.slots)
    }
}

/// A request in flight, counted by its [`ConnectionBudget`] until dropped.
#[derive(Debug)]
pub(crate) struct InFlight {
    budget: ConnectionBudget,
    origin: String,
    keep_alive: bool,
}

impl InFlight {
    /// Whether the request's connection may stay in the pool; when not, it is sent with
    /// `Connection: close`.
    pub(crate) fn keep_alive(&self) -> bool {
        self.keep_alive
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.budget.finish(&self.origin, Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn budget() -> ConnectionBudget {
        ConnectionBudget::new(2, 3, Duration::from_secs(10))
    }

    #[test]
    fn each_origin_keeps_at_most_its_cap() {
        let budget = budget();
        let now = Instant::now();
        let first = budget.start("http://a".into(), now);
        let second = budget.start("http://a".into(), now);
        let third = budget.start("http://a".into(), now);
        assert!(first.keep_alive() && second.keep_alive());
        assert!(
            !third.keep_alive(),
            "a third connection to one origin closes"
        );
        drop((first, second, third));
        // Sequential requests reuse the slots the origin has.
        for _ in 0..5 {
            assert!(budget.start("http://a".into(), now).keep_alive());
        }
        assert_eq!(budget.counts(), (1, 2));
    }

    #[test]
    fn origins_beyond_the_total_close_their_connections() {
        let budget = budget();
        let now = Instant::now();
        for origin in ["http://a", "http://b", "http://c"] {
            assert!(budget.start(origin.into(), now).keep_alive(), "{origin}");
        }
        for n in 0..100 {
            let request = budget.start(format!("http://other-{n}"), now);
            assert!(!request.keep_alive());
        }
        // Nothing is remembered about origins that hold no slot.
        assert_eq!(budget.counts(), (3, 3));
        // Origins with slots keep using them.
        assert!(budget.start("http://b".into(), now).keep_alive());
    }

    #[test]
    fn slots_come_back_once_the_pool_dropped_the_connections() {
        let budget = budget();
        let now = Instant::now();
        for origin in ["http://a", "http://b", "http://c"] {
            drop(budget.start(origin.into(), now));
        }
        let soon = Instant::now() + Duration::from_secs(5);
        assert!(!budget.start("http://d".into(), soon).keep_alive());
        let later = Instant::now() + Duration::from_secs(22);
        assert!(budget.start("http://d".into(), later).keep_alive());
        assert_eq!(
            budget.counts(),
            (1, 1),
            "the lingering origins were forgotten"
        );
    }

    #[test]
    fn redirect_hops_are_requests_to_their_own_origin() {
        let budget = budget();
        let now = Instant::now();
        // A registry that sends every request to a new storage host: each hop takes a slot
        // while there is room, then closes its connection.
        let registry = budget.start("http://registry".into(), now);
        let kept: Vec<bool> = (0..10)
            .map(|n| {
                let hop = budget.start(format!("http://storage-{n}"), now);
                hop.keep_alive()
            })
            .collect();
        drop(registry);
        assert_eq!(kept.iter().filter(|kept| **kept).count(), 2, "{kept:?}");
        assert!(kept[2..].iter().all(|kept| !kept));
        assert_eq!(budget.counts().1, 3, "slots never pass the total");
    }

    #[test]
    fn an_origin_with_a_request_in_flight_keeps_its_slot() {
        let budget = budget();
        let now = Instant::now();
        let long_download = budget.start("http://a".into(), now);
        for origin in ["http://b", "http://c"] {
            drop(budget.start(origin.into(), now));
        }
        let later = now + Duration::from_secs(60);
        let d = budget.start("http://d".into(), later);
        let e = budget.start("http://e".into(), later);
        assert!(
            d.keep_alive() && e.keep_alive(),
            "b's and c's slots were freed"
        );
        assert!(!budget.start("http://f".into(), later).keep_alive());
        drop((long_download, d, e));
        assert_eq!(budget.counts(), (3, 3));
    }
}
