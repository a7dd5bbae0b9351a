//! A refusal by the registry ends, at once, what the caches give the refused credentials
//! without asking it.
//!
//! A page cached for some credentials, and the acceptance its read recorded
//! ([`Caches::accepted`]: `.metadata` from memory, `HEAD` and revalidations without a
//! registry request), answer those credentials for up to a TTL. A password changed or a
//! right removed in that time shows as a `401`/`403` on the next request the registry does
//! see with those credentials (a range, a file, a page refresh, an upload), and from that
//! answer on nothing cached for them is given out:
//!
//! - `401` with credentials: they are bad on the whole registry, so every page and
//!   acceptance of theirs on it goes;
//! - `403` (or `401` without credentials, which asks for some): no rights on that
//!   repository, so that project's page and acceptance go.
//!
//! [`ForgetRefused`] sits on top of the outgoing stack, above the token exchange, so it sees
//! every final answer of every request made with a caller's credentials, whichever handler
//! made it and whether or not the handler passes the error on.
//!
//! A refusal is kept (not just the entries removed) for a TTL, so that a listing that read
//! before it and stores after it (a page refresh under way) cannot store an acceptance the
//! registry has since withdrawn; the same rule as for writes ([`Caches::invalidate`]).

use std::{
    collections::HashMap,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{ready, Context, Poll},
    time::Duration,
};

use http::{Request, Response, StatusCode, Uri};
use pin_project::pin_project;
use pyoci_basic_auth::Credentials;
use tower::{Layer, Service};

use super::{Caches, Fingerprint, Project, Snapshot};

/// Refusal records kept at most. Anyone can make refusals (a wrong password costs nothing),
/// so their memory is bounded: past this many within a TTL, they are forgotten together
/// and every page and acceptance read before is refused instead (see [`Refusals::floor`]).
pub(super) const MAX_REFUSALS: usize = 8192;

/// What a refused registry request was about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalScope<'a> {
    /// A repository's tags, manifests, blobs or uploads.
    Repository(&'a str),
    /// The registry as a whole (`/v2/_catalog`, `/v2/`): no project's rights are involved.
    Registry,
    /// A path PyOCI cannot place: taken as the whole registry, to be safe.
    Unknown,
}

impl<'a> RefusalScope<'a> {
    /// What the request at `path` (of a registry's API) was about.
    pub fn of_path(path: &'a str) -> RefusalScope<'a> {
        let Some(rest) = path.strip_prefix("/v2/") else {
            return RefusalScope::Unknown;
        };
        if rest.is_empty() || rest == "_catalog" {
            return RefusalScope::Registry;
        }
        if let Some(repository) = rest.strip_suffix("/tags/list") {
            return RefusalScope::named(repository);
        }
        // `<name>/manifests/<reference>`, `<name>/blobs/<digest>`, `<name>/referrers/<digest>`,
        // `<name>/blobs/uploads/[<session>]`: the last segment never holds a `/`.
        let Some((head, _)) = rest.rsplit_once('/') else {
            return RefusalScope::Unknown;
        };
        ["/manifests", "/blobs", "/referrers", "/blobs/uploads"]
            .into_iter()
            .find_map(|kind| head.strip_suffix(kind))
            .map_or(RefusalScope::Unknown, RefusalScope::named)
    }

    fn named(repository: &'a str) -> RefusalScope<'a> {
        if repository.is_empty() {
            RefusalScope::Unknown
        } else {
            RefusalScope::Repository(repository)
        }
    }
}

/// What a refusal withdraws.
pub(super) enum Withdrawn {
    /// Every acceptance of the credentials on this registry.
    Registry(String),
    /// The credentials' acceptance for this project.
    Project(Project),
}

impl Withdrawn {
    /// What the registry's `status` to a request about `scope` withdraws from
    /// `credentials`; `None` when it is no refusal, or says nothing of any project.
    pub(super) fn by(
        registry: &str,
        scope: RefusalScope<'_>,
        credentials: &Credentials,
        status: StatusCode,
    ) -> Option<Withdrawn> {
        if status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED {
            return None;
        }
        let whole_registry = || Withdrawn::Registry(registry.to_owned());
        // Without credentials, 401 asks for some: it says nothing of anyone's password.
        let bad_credentials =
            status == StatusCode::UNAUTHORIZED && !matches!(credentials, Credentials::Anonymous);
        Some(match scope {
            _ if bad_credentials => whole_registry(),
            RefusalScope::Repository(repository) => {
                Withdrawn::Project(Project::new(registry, repository))
            }
            // No rights to list the registry says nothing about a project's.
            RefusalScope::Registry => return None,
            RefusalScope::Unknown => whole_registry(),
        })
    }
}

/// Refusals less than a TTL ago, by the refused credentials.
#[derive(Default)]
pub(super) struct Refusals {
    by_credentials: HashMap<Fingerprint, Refused>,
    records: usize,
    /// Pages and acceptances read before this epoch are not given out: refusals that did
    /// not fit [`MAX_REFUSALS`] were forgotten then, and may have been any credentials'.
    floor: u64,
}

/// The refusals of one set of credentials, and when each was seen.
#[derive(Default)]
struct Refused {
    registries: HashMap<String, Snapshot>,
    projects: HashMap<Project, Snapshot>,
}

impl Refusals {
    /// Records that `withdrawn` was refused to `fingerprint` at `at`.
    pub(super) fn record(
        &mut self,
        fingerprint: Fingerprint,
        withdrawn: Withdrawn,
        at: Snapshot,
        ttl: Duration,
    ) {
        if self.records >= MAX_REFUSALS {
            self.forget_older_than(ttl);
        }
        if self.records >= MAX_REFUSALS {
            self.by_credentials.clear();
            self.records = 0;
            self.floor = at.epoch;
            return;
        }
        let refused = self.by_credentials.entry(fingerprint).or_default();
        let replaced = match withdrawn {
            Withdrawn::Registry(registry) => refused.registries.insert(registry, at),
            Withdrawn::Project(project) => refused.projects.insert(project, at),
        };
        if replaced.is_none() {
            self.records += 1;
        }
    }

    /// Whether what was read at `read` for `fingerprint` in `project` was refused since.
    pub(super) fn since(
        &self,
        project: &Project,
        fingerprint: &Fingerprint,
        read: &Snapshot,
    ) -> bool {
        if read.epoch < self.floor {
            return true;
        }
        let Some(refused) = self.by_credentials.get(fingerprint) else {
            return false;
        };
        let after_read =
            |refusal: Option<&Snapshot>| refusal.is_some_and(|at| at.epoch > read.epoch);
        after_read(refused.registries.get(&project.registry))
            || after_read(refused.projects.get(project))
    }

    /// Drops records older than `ttl`: whatever they refuse has expired by then.
    fn forget_older_than(&mut self, ttl: Duration) {
        let mut records = 0;
        self.by_credentials.retain(|_, refused| {
            refused.registries.retain(|_, at| at.at.elapsed() < ttl);
            refused.projects.retain(|_, at| at.at.elapsed() < ttl);
            records += refused.registries.len() + refused.projects.len();
            !(refused.registries.is_empty() && refused.projects.is_empty())
        });
        self.records = records;
    }

    #[cfg(test)]
    pub(super) fn records(&self) -> usize {
        self.records
    }
}

/// Tells the caches of every refusal the registry answers ([`Caches::refused`]). See the
/// module docs.
#[derive(Clone)]
pub struct ForgetRefusedLayer {
    caches: Arc<Caches>,
}

impl ForgetRefusedLayer {
    pub fn new(caches: Arc<Caches>) -> ForgetRefusedLayer {
        ForgetRefusedLayer { caches }
    }
}

impl<S> Layer<S> for ForgetRefusedLayer {
    type Service = ForgetRefused<S>;

    fn layer(&self, inner: S) -> ForgetRefused<S> {
        ForgetRefused {
            inner,
            caches: self.caches.clone(),
        }
    }
}

/// See [`ForgetRefusedLayer`].
#[derive(Clone)]
pub struct ForgetRefused<S> {
    inner: S,
    caches: Arc<Caches>,
}

impl<S, B, R> Service<Request<B>> for ForgetRefused<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let watch = self.caches.enabled().then(|| Watch {
            caches: self.caches.clone(),
            uri: request.uri().clone(),
            credentials: request
                .extensions()
                .get::<Credentials>()
                .cloned()
                .unwrap_or_default(),
        });
        ResponseFuture {
            inner: self.inner.call(request),
            watch,
        }
    }
}

/// What a refusal of the request is about, kept until its answer comes.
struct Watch {
    caches: Arc<Caches>,
    uri: Uri,
    credentials: Credentials,
}

impl Watch {
    fn answered(self, status: StatusCode) {
        let (Some(scheme), Some(authority)) = (self.uri.scheme(), self.uri.authority()) else {
            return;
        };
        // As `Project` names a registry (`Registry`'s display form).
        let registry = format!("{scheme}://{authority}");
        let scope = RefusalScope::of_path(self.uri.path());
        self.caches
            .refused(&registry, scope, &self.credentials, status);
    }
}

/// The inner answer, once told to the caches.
#[pin_project]
pub struct ResponseFuture<F> {
    #[pin]
    inner: F,
    watch: Option<Watch>,
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let answer = ready!(this.inner.poll(cx));
        if let Ok(response) = &answer {
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                if let Some(watch) = this.watch.take() {
                    watch.answered(status);
                }
            }
        }
        Poll::Ready(answer)
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use tower::ServiceExt;

    use super::*;

    #[tokio::test]
    async fn the_layer_tells_the_caches_of_refusals_of_the_credentials_sent() {
        let caches = Arc::new(Caches::new(Duration::from_secs(60), 1 << 20));
        let registry = pyoci_oci::Registry::new("http", "registry.test:5000").unwrap();
        let demo = Project::new(&registry, "acme/demo");
        let alice = Credentials::Basic {
            username: "alice".into(),
            password: pyoci_basic_auth::Secret::new("pw"),
        };
        let key = caches.page_key(demo.clone(), "/p/", &alice).unwrap();
        let send = |status: u16| {
            let registry = ForgetRefusedLayer::new(caches.clone()).layer(tower::service_fn(
                move |_: Request<()>| async move {
                    let mut response = Response::new(());
                    *response.status_mut() = StatusCode::from_u16(status).unwrap();
                    Ok::<_, Infallible>(response)
                },
            ));
            let mut request = Request::new(());
            *request.uri_mut() = "http://registry.test:5000/v2/acme/demo/blobs/sha256:abc"
                .parse()
                .unwrap();
            request.extensions_mut().insert(alice.clone());
            registry.oneshot(request)
        };
        for status in [200, 206, 304, 404, 500] {
            caches.store_page(key.clone(), caches.snapshot(), page());
            assert_eq!(send(status).await.unwrap().status(), status);
            assert!(caches.accepted(&demo, &alice), "{status}");
        }
        for status in [401, 403] {
            caches.store_page(key.clone(), caches.snapshot(), page());
            assert_eq!(send(status).await.unwrap().status(), status);
            assert!(!caches.accepted(&demo, &alice), "{status}");
            assert!(caches.page(&key).is_none(), "{status}");
        }
    }

    fn page() -> pyoci_index::SharedPage {
        pyoci_index::SharedPage::new(pyoci_index::ProjectPage::new("demo", vec![]))
    }

    #[test]
    fn paths_name_the_repository_they_are_about() {
        let cases = [
            (
                "/v2/acme/demo/tags/list",
                RefusalScope::Repository("acme/demo"),
            ),
            (
                "/v2/acme/demo/manifests/1.0",
                RefusalScope::Repository("acme/demo"),
            ),
            (
                "/v2/acme/demo/manifests/sha256:abc",
                RefusalScope::Repository("acme/demo"),
            ),
            (
                "/v2/acme/demo/blobs/sha256:abc",
                RefusalScope::Repository("acme/demo"),
            ),
            (
                "/v2/acme/demo/blobs/uploads/",
                RefusalScope::Repository("acme/demo"),
            ),
            (
                "/v2/acme/demo/blobs/uploads/0b1c-session",
                RefusalScope::Repository("acme/demo"),
            ),
            (
                "/v2/acme/demo/referrers/sha256:abc",
                RefusalScope::Repository("acme/demo"),
            ),
            // Repository names may hold the API's words as components.
            (
                "/v2/acme/blobs/blobs/uploads/",
                RefusalScope::Repository("acme/blobs"),
            ),
            (
                "/v2/acme/blobs/uploads/blobs/sha256:abc",
                RefusalScope::Repository("acme/blobs/uploads"),
            ),
            (
                "/v2/acme/manifests/manifests/1.0",
                RefusalScope::Repository("acme/manifests"),
            ),
            ("/v2/_catalog", RefusalScope::Registry),
            ("/v2/", RefusalScope::Registry),
            ("/v2/acme/demo/other/x", RefusalScope::Unknown),
            ("/v2/manifests/1.0", RefusalScope::Unknown),
            ("/token", RefusalScope::Unknown),
        ];
        for (path, expected) in cases {
            assert_eq!(RefusalScope::of_path(path), expected, "{path}");
        }
    }
}
