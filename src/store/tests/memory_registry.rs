//! A registry in memory, answering as pyoci-oci's stub registry: the part of the
//! distribution API the store speaks (tags, manifests with conditional writes, blobs and
//! upload sessions), and hooks that let a "concurrent writer" act between two requests.

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard},
};

use bytes::Bytes;
use http::{Method, Response};
use pyoci_oci::{
    test_util::{respond, Recorded},
    Digest, ImageIndex, OCI_INDEX_MEDIA_TYPE,
};
use tower::BoxError;

/// What the registry holds, by repository.
#[derive(Default)]
pub struct Contents {
    /// Manifests by (repository, digest): media type and bytes.
    manifests: HashMap<(String, String), (String, Bytes)>,
    /// Tags by (repository, tag): the digest they point to.
    tags: BTreeMap<(String, String), String>,
    blobs: HashMap<(String, String), Bytes>,
    /// Upload sessions by id: repository and the bytes sent so far.
    uploads: HashMap<String, (String, Vec<u8>)>,
    next_upload: u64,
}

impl Contents {
    /// Tags `index` as `tag` in `repo`, as any writer would; its digest.
    pub fn put_index(&mut self, repo: &str, tag: &str, index: &ImageIndex) -> Digest {
        let bytes = Bytes::from(serde_json::to_vec(index).unwrap());
        self.put_manifest(repo, tag, OCI_INDEX_MEDIA_TYPE, bytes)
    }

    /// Stores a manifest of `media_type` under `reference` (a tag or a digest); its digest.
    pub fn put_manifest(
        &mut self,
        repo: &str,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Digest {
        let digest = Digest::sha256_of(&bytes);
        let key = (repo.to_owned(), digest.as_str().to_owned());
        self.manifests.insert(key, (media_type.to_owned(), bytes));
        if !reference.starts_with("sha256:") {
            let tag = (repo.to_owned(), reference.to_owned());
            self.tags.insert(tag, digest.as_str().to_owned());
        }
        digest
    }

    /// Stores a blob in `repo`, as a finished upload would; its digest.
    pub fn put_blob(&mut self, repo: &str, bytes: Bytes) -> Digest {
        let digest = Digest::sha256_of(&bytes);
        self.blobs
            .insert((repo.to_owned(), digest.as_str().to_owned()), bytes);
        digest
    }

    /// The index tagged `tag` in `repo`.
    pub fn index(&self, repo: &str, tag: &str) -> Option<ImageIndex> {
        let (_, bytes) = self.manifest(repo, tag)?;
        Some(serde_json::from_slice(&bytes).unwrap())
    }

    /// The manifest `reference` (a tag or a digest) of `repo`, and its digest.
    pub fn manifest(&self, repo: &str, reference: &str) -> Option<(String, Bytes)> {
        let digest = match reference.starts_with("sha256:") {
            true => reference.to_owned(),
            false => self
                .tags
                .get(&(repo.to_owned(), reference.to_owned()))?
                .clone(),
        };
        let (_, bytes) = self.manifests.get(&(repo.to_owned(), digest.clone()))?;
        Some((digest, bytes.clone()))
    }

    /// Removes `tag` of `repo` (pointing to `digest`), leaving the manifest.
    pub fn delete_tag(&mut self, repo: &str, tag: &str, digest: &str) {
        self.tags
            .retain(|(tagged, name), held| !(tagged == repo && name == tag && held == digest));
    }

    /// The manifest `reference` of `repo` as a GET serves it: its `Content-Type` and bytes.
    pub fn served_manifest(&self, repo: &str, reference: &str) -> Option<(String, Bytes)> {
        let (digest, bytes) = self.manifest(repo, reference)?;
        let (media_type, _) = self.manifests.get(&(repo.to_owned(), digest))?;
        Some((media_type.clone(), bytes))
    }

    /// The blob `digest` of `repo`.
    pub fn blob(&self, repo: &str, digest: &str) -> Option<Bytes> {
        self.blobs
            .get(&(repo.to_owned(), digest.to_owned()))
            .cloned()
    }

    /// The tags of `repo`, sorted.
    pub fn tags(&self, repo: &str) -> Vec<String> {
        self.tags
            .keys()
            .filter(|(tagged, _)| tagged == repo)
            .map(|(_, tag)| tag.clone())
            .collect()
    }
}

/// Something another writer does to the registry between two of the store's requests.
type Interference = Box<dyn FnOnce(&mut Contents) + Send>;

struct Inner {
    contents: Contents,
    /// Whether `If-Match` and `If-None-Match` are honoured (most registries ignore them).
    honours_conditions: bool,
    /// Whether manifests with an `artifactType` are refused (GitLab's `MANIFEST_INVALID`).
    refuses_artifact_types: bool,
    /// Manifests larger than this are refused with `MANIFEST_INVALID`, as distribution
    /// refuses those over 4 MiB.
    max_manifest_bytes: usize,
    /// Done just before the next write to a tag is handled, by tag.
    before_write: HashMap<String, VecDeque<Interference>>,
    /// Done just after the next write to a tag succeeded, by tag.
    after_write: HashMap<String, VecDeque<Interference>>,
}

/// A registry in memory. Cheap to clone: clones share the registry.
#[derive(Clone)]
pub struct MemoryRegistry(Arc<Mutex<Inner>>);

impl MemoryRegistry {
    pub fn new() -> MemoryRegistry {
        MemoryRegistry(Arc::new(Mutex::new(Inner {
            contents: Contents::default(),
            honours_conditions: false,
            refuses_artifact_types: false,
            max_manifest_bytes: usize::MAX,
            before_write: HashMap::new(),
            after_write: HashMap::new(),
        })))
    }

    /// A registry that refuses a conditional write whose condition no longer holds (412).
    pub fn honouring_conditions(self) -> Self {
        self.lock().honours_conditions = true;
        self
    }

    /// A registry that refuses PyOCI's media types, as GitLab does.
    pub fn refusing_artifact_types(self) -> Self {
        self.lock().refuses_artifact_types = true;
        self
    }

    /// A registry that refuses manifests larger than `bytes`.
    pub fn refusing_manifests_over(self, bytes: usize) -> Self {
        self.lock().max_manifest_bytes = bytes;
        self
    }

    /// Looks at, or changes, what the registry holds now.
    pub fn with_contents<R>(&self, f: impl FnOnce(&mut Contents) -> R) -> R {
        f(&mut self.lock().contents)
    }

    /// Has another writer do `change` just before the store's next write to `tag`.
    pub fn before_next_write(
        &self,
        tag: &str,
        change: impl FnOnce(&mut Contents) + Send + 'static,
    ) {
        let mut inner = self.lock();
        let queue = inner.before_write.entry(tag.to_owned()).or_default();
        queue.push_back(Box::new(change));
    }

    /// Has another writer do `change` just after the store's next write to `tag` succeeded.
    pub fn after_next_write(&self, tag: &str, change: impl FnOnce(&mut Contents) + Send + 'static) {
        let mut inner = self.lock();
        let queue = inner.after_write.entry(tag.to_owned()).or_default();
        queue.push_back(Box::new(change));
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The answer to `request`, for pyoci-oci's stub registry.
    pub fn answer(&self, request: &Recorded) -> Result<Response<reqwest::Body>, BoxError> {
        let mut inner = self.lock();
        let path = request.path().to_owned();
        let Some(rest) = path.strip_prefix("/v2/") else {
            return respond(404, &[], "");
        };
        if rest.is_empty() {
            return respond(200, &[], "{}");
        }
        if let Some((repo, reference)) = rest.split_once("/manifests/") {
            return inner.manifest(&request.method, repo, reference, request);
        }
        if let Some(repo) = rest.strip_suffix("/tags/list") {
            let tags = inner.contents.tags(repo);
            if tags.is_empty() {
                return unknown("NAME_UNKNOWN");
            }
            return respond(
                200,
                &[],
                &serde_json::json!({ "name": repo, "tags": tags }).to_string(),
            );
        }
        if let Some((repo, session)) = rest.split_once("/blobs/uploads/") {
            return inner
                .contents
                .upload(&request.method, repo, session, request);
        }
        if let Some((repo, digest)) = rest.split_once("/blobs/") {
            let Some(blob) = inner.contents.blob(repo, digest) else {
                return unknown("BLOB_UNKNOWN");
            };
            let length = blob.len().to_string();
            let headers = [("content-length", length.as_str())];
            return match request.method {
                Method::HEAD => respond(200, &headers, ""),
                _ => Ok(Response::builder()
                    .header("content-length", length)
                    .body(reqwest::Body::from(blob))?),
            };
        }
        respond(404, &[], "")
    }
}

impl Inner {
    fn manifest(
        &mut self,
        method: &Method,
        repo: &str,
        reference: &str,
        request: &Recorded,
    ) -> Result<Response<reqwest::Body>, BoxError> {
        match *method {
            Method::GET | Method::HEAD => {
                let Some((digest, bytes)) = self.contents.manifest(repo, reference) else {
                    return unknown("MANIFEST_UNKNOWN");
                };
                let key = (repo.to_owned(), digest.clone());
                let media_type = self.contents.manifests[&key].0.clone();
                Ok(Response::builder()
                    .header("content-type", media_type)
                    .header("docker-content-digest", digest)
                    .body(reqwest::Body::from(bytes))?)
            }
            Method::PUT => {
                if let Some(change) = queued(&mut self.before_write, reference) {
                    change(&mut self.contents);
                }
                if self.honours_conditions && !self.condition_holds(repo, reference, request) {
                    return respond(412, &[], "");
                }
                let media_type = request
                    .header("content-type")
                    .unwrap_or_default()
                    .to_owned();
                if request.body.len() > self.max_manifest_bytes {
                    return refused("MANIFEST_INVALID");
                }
                if self.refuses_artifact_types && request_has_artifact_type(&request.body) {
                    return refused("MANIFEST_INVALID");
                }
                let digest =
                    self.contents
                        .put_manifest(repo, reference, &media_type, request.body.clone());
                if let Some(change) = queued(&mut self.after_write, reference) {
                    change(&mut self.contents);
                }
                respond(201, &[("docker-content-digest", digest.as_str())], "")
            }
            Method::DELETE => {
                let key = (repo.to_owned(), reference.to_owned());
                if self.contents.manifests.remove(&key).is_none() {
                    return unknown("MANIFEST_UNKNOWN");
                }
                // Deleting a manifest removes every tag pointing to it.
                self.contents
                    .tags
                    .retain(|(tagged, _), digest| !(tagged == repo && digest == reference));
                respond(202, &[], "")
            }
            _ => respond(405, &[], ""),
        }
    }

    fn condition_holds(&self, repo: &str, reference: &str, request: &Recorded) -> bool {
        let current = self
            .contents
            .manifest(repo, reference)
            .map(|(digest, _)| digest);
        if let Some(expected) = request.header("if-match") {
            return current.is_some_and(|digest| expected.trim_matches('"') == digest);
        }
        if request.header("if-none-match") == Some("*") {
            return current.is_none();
        }
        true
    }
}

impl Contents {
    fn upload(
        &mut self,
        method: &Method,
        repo: &str,
        session: &str,
        request: &Recorded,
    ) -> Result<Response<reqwest::Body>, BoxError> {
        let location = |id: &str| format!("/v2/{repo}/blobs/uploads/{id}");
        match *method {
            Method::POST => {
                self.next_upload += 1;
                let id = self.next_upload.to_string();
                self.uploads
                    .insert(id.clone(), (repo.to_owned(), Vec::new()));
                respond(202, &[("location", &location(&id))], "")
            }
            Method::PATCH => {
                let Some((_, bytes)) = self.uploads.get_mut(session) else {
                    return unknown("BLOB_UPLOAD_UNKNOWN");
                };
                bytes.extend_from_slice(&request.body);
                let range = format!("0-{}", bytes.len().saturating_sub(1));
                respond(
                    202,
                    &[("location", &location(session)), ("range", &range)],
                    "",
                )
            }
            Method::PUT => {
                let Some((_, mut bytes)) = self.uploads.remove(session) else {
                    return unknown("BLOB_UPLOAD_UNKNOWN");
                };
                bytes.extend_from_slice(&request.body);
                let digest = request.query("digest").unwrap_or_default().to_owned();
                if Digest::sha256_of(&bytes).as_str() != digest {
                    return refused("DIGEST_INVALID");
                }
                self.blobs
                    .insert((repo.to_owned(), digest.clone()), Bytes::from(bytes));
                respond(201, &[("docker-content-digest", &digest)], "")
            }
            Method::DELETE => {
                self.uploads.remove(session);
                respond(204, &[], "")
            }
            _ => respond(405, &[], ""),
        }
    }
}

fn queued(hooks: &mut HashMap<String, VecDeque<Interference>>, tag: &str) -> Option<Interference> {
    hooks.get_mut(tag)?.pop_front()
}

fn request_has_artifact_type(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .is_ok_and(|manifest| manifest.get("artifactType").is_some())
}

/// The distribution API's 404, with the code saying what is unknown.
fn unknown(code: &str) -> Result<Response<reqwest::Body>, BoxError> {
    let body = serde_json::json!({ "errors": [{ "code": code, "message": "unknown" }] });
    respond(
        404,
        &[("content-type", "application/json")],
        &body.to_string(),
    )
}

/// The distribution API's 400, with the code saying why.
fn refused(code: &str) -> Result<Response<reqwest::Body>, BoxError> {
    let body = serde_json::json!({ "errors": [{ "code": code, "message": "refused" }] });
    respond(
        400,
        &[("content-type", "application/json")],
        &body.to_string(),
    )
}
