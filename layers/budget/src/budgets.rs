use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex, Weak};

use pyoci_core::Credentials;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Which budget a request draws from; put it in the request's extensions (none means
/// [`RequestClass::Ordinary`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RequestClass {
    /// Answered within the registry timeout: reads, small pushes, deletes, token fetches.
    #[default]
    Ordinary,
    /// A version index's read and write, under one permit taken before the read.
    IndexWrite,
    /// A blob upload whose body streams from a client, for as long as that client takes.
    StreamedUpload,
}

/// The three budgets, shared by every clone.
#[derive(Clone)]
pub struct Budgets {
    shared: Arc<Shared>,
}

struct Shared {
    ordinary: Pool,
    index_writes: Pool,
    uploads: Pool,
    uploads_per_client: usize,
    /// Each client's share of the upload budget, kept only while someone holds or awaits it,
    /// so the table never outgrows the uploads in progress.
    clients: Mutex<HashMap<u64, Weak<Semaphore>>>,
    /// Keys the client table by a fingerprint of the credentials, not the credentials: no
    /// secret is kept, and the random key makes fingerprints useless outside this process.
    fingerprints: RandomState,
}

struct Pool {
    semaphore: Arc<Semaphore>,
    size: usize,
}

impl Pool {
    fn new(size: usize) -> Pool {
        let size = size.clamp(1, Semaphore::MAX_PERMITS);
        Pool {
            semaphore: Arc::new(Semaphore::new(size)),
            size,
        }
    }

    fn in_use(&self) -> usize {
        self.size - self.semaphore.available_permits()
    }
}

impl Budgets {
    /// `requests` ordinary requests and as many index writes at once, `uploads` streamed
    /// uploads, of which one client may hold `uploads_per_client`. Each is at least 1.
    pub fn new(requests: usize, uploads: usize, uploads_per_client: usize) -> Budgets {
        let uploads = uploads.max(1);
        Budgets {
            shared: Arc::new(Shared {
                ordinary: Pool::new(requests),
                index_writes: Pool::new(requests),
                uploads: Pool::new(uploads),
                uploads_per_client: uploads_per_client.clamp(1, uploads),
                clients: Mutex::default(),
                fingerprints: RandomState::new(),
            }),
        }
    }

    /// Waits for a permit of `class`'s budget, for a request made with `credentials`. A
    /// streamed upload first waits for its client's share, then for the upload budget, so
    /// a client over its share holds nothing others could use.
    pub async fn acquire(&self, class: RequestClass, credentials: &Credentials) -> HeldPermit {
        let shared = &self.shared;
        let mut permits = Vec::with_capacity(2);
        let pool = match class {
            RequestClass::Ordinary => &shared.ordinary,
            RequestClass::IndexWrite => &shared.index_writes,
            RequestClass::StreamedUpload => {
                let share = self.client_share(credentials);
                permits.extend(share.acquire_owned().await.ok());
                &shared.uploads
            }
        };
        // The semaphores are never closed, so acquiring cannot fail.
        permits.extend(pool.semaphore.clone().acquire_owned().await.ok());
        HeldPermit(Arc::new(permits))
    }

    /// How many permits of `class`'s budget are held right now.
    pub fn in_use(&self, class: RequestClass) -> usize {
        match class {
            RequestClass::Ordinary => self.shared.ordinary.in_use(),
            RequestClass::IndexWrite => self.shared.index_writes.in_use(),
            RequestClass::StreamedUpload => self.shared.uploads.in_use(),
        }
    }

    /// The share of the upload budget of the client with these credentials.
    fn client_share(&self, credentials: &Credentials) -> Arc<Semaphore> {
        let fingerprint = self.shared.fingerprints.hash_one(credentials);
        let mut clients = self
            .shared
            .clients
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(share) = clients.get(&fingerprint).and_then(Weak::upgrade) {
            return share;
        }
        clients.retain(|_, share| share.strong_count() > 0);
        let share = Arc::new(Semaphore::new(self.shared.uploads_per_client));
        clients.insert(fingerprint, Arc::downgrade(&share));
        share
    }
}

impl fmt::Debug for Budgets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budgets")
            .field("ordinary", &self.shared.ordinary.size)
            .field("index_writes", &self.shared.index_writes.size)
            .field("uploads", &self.shared.uploads.size)
            .field("uploads_per_client", &self.shared.uploads_per_client)
            .finish()
    }
}

/// A permit taken with [`Budgets::acquire`], released when the last clone is dropped. In a
/// request's extensions it lets the request through the [`Budget`](crate::Budget) layer
/// without taking another permit.
#[derive(Clone)]
pub struct HeldPermit(#[allow(dead_code)] Arc<Vec<OwnedSemaphorePermit>>);

impl fmt::Debug for HeldPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HeldPermit")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn user(name: &str) -> Credentials {
        Credentials::Basic {
            username: name.into(),
            password: "secret".into(),
        }
    }

    async fn blocks<F: std::future::Future>(future: F) -> bool {
        tokio::time::timeout(Duration::from_millis(50), future)
            .await
            .is_err()
    }

    #[tokio::test]
    async fn uploads_never_take_ordinary_or_index_write_slots() {
        let budgets = Budgets::new(1, 2, 2);
        let mut held = Vec::new();
        for _ in 0..2 {
            held.push(
                budgets
                    .acquire(RequestClass::StreamedUpload, &user("a"))
                    .await,
            );
        }
        assert!(blocks(budgets.acquire(RequestClass::StreamedUpload, &user("b"))).await);
        let read = budgets.acquire(RequestClass::Ordinary, &user("b")).await;
        let write = budgets.acquire(RequestClass::IndexWrite, &user("b")).await;
        assert_eq!(budgets.in_use(RequestClass::Ordinary), 1);
        assert_eq!(budgets.in_use(RequestClass::IndexWrite), 1);
        assert_eq!(budgets.in_use(RequestClass::StreamedUpload), 2);
        drop((read, write, held));
        assert_eq!(budgets.in_use(RequestClass::StreamedUpload), 0);
    }

    #[tokio::test]
    async fn one_client_gets_at_most_its_share_of_the_uploads() {
        let budgets = Budgets::new(8, 4, 2);
        let first = budgets
            .acquire(RequestClass::StreamedUpload, &user("a"))
            .await;
        let _second = budgets
            .acquire(RequestClass::StreamedUpload, &user("a"))
            .await;
        assert!(blocks(budgets.acquire(RequestClass::StreamedUpload, &user("a"))).await);
        assert_eq!(
            budgets.in_use(RequestClass::StreamedUpload),
            2,
            "a client waiting for its share holds no upload slot"
        );
        let _other = budgets
            .acquire(RequestClass::StreamedUpload, &user("b"))
            .await;
        let _anonymous = budgets
            .acquire(RequestClass::StreamedUpload, &Credentials::Anonymous)
            .await;
        drop(first);
        let _third = budgets
            .acquire(RequestClass::StreamedUpload, &user("a"))
            .await;
    }

    #[tokio::test]
    async fn client_shares_are_forgotten_when_unused() {
        let budgets = Budgets::new(1, 4, 1);
        for name in ["a", "b", "c"] {
            drop(
                budgets
                    .acquire(RequestClass::StreamedUpload, &user(name))
                    .await,
            );
        }
        let _held = budgets
            .acquire(RequestClass::StreamedUpload, &user("d"))
            .await;
        let clients = budgets.shared.clients.lock().unwrap();
        assert_eq!(clients.len(), 1, "only the client holding a permit is kept");
    }

    #[test]
    fn a_share_is_never_larger_than_the_budget() {
        let budgets = Budgets::new(0, 3, 100);
        assert_eq!(budgets.shared.uploads_per_client, 3);
        assert_eq!(budgets.shared.ordinary.size, 1);
    }
}
