//! Reading a project's versions and their indexes: the tag list, each version's tag, and
//! the caches a listing and a download fill alike (a tag for the TTL, an index by digest).
//! Only the registry's 404 means a version does not exist.

use std::sync::Arc;

use futures_util::{stream, StreamExt, TryStreamExt};
use pyoci_oci::{Descriptor, Digest, ImageIndex, OciError, TaggedIndex};

use super::{
    repository::Repository,
    shared::{Oci, Store},
};
use crate::{
    cache::{Caches, Project, Snapshot, TagTarget},
    error::Error,
    layout,
    package::{DistFilename, PackageVersion},
};

impl Repository {
    /// The project's versions, newest first by PEP 440, at most `max` (0 = all). A
    /// registry that says it has no such repository (`NAME_UNKNOWN`) is remembered as such
    /// ([`Repository::known_lacking`]), as the fallback and the mirror would ask it again.
    pub async fn versions(&self, max: usize) -> Result<Vec<PackageVersion>, Error> {
        let read = self.store.caches.snapshot();
        match self.oci.list_tags(&self.path).await {
            Ok(tags) => Ok(newest_versions(&tags, max)),
            Err(err @ OciError::NotFound { .. }) => {
                if err.not_found_code() == Some("NAME_UNKNOWN") {
                    self.store.caches.store_lacking(&self.key, read);
                }
                Err(no_such_repository(&self.oci, &self.path, err).await)
            }
            Err(other) => Err(Error::Registry(other)),
        }
    }

    /// The index entry of a stored file (`None` when there is no such file), and the
    /// version's index as read (`None` when the version does not exist), past every cache.
    pub async fn stored_entry(
        &self,
        file: &DistFilename,
    ) -> Result<(Option<Descriptor>, Option<ImageIndex>), Error> {
        let index = read_index(&self.oci, &self.path, file.version())
            .await?
            .map(|(index, _)| index);
        let entry = index
            .as_ref()
            .and_then(|index| layout::find_file(index, file.architecture()).cloned());
        Ok((entry, index))
    }
}

/// A project's versions, newest first by PEP 440, at most `max` of them (0 = all).
/// Tags that are not versions (`latest`, signatures) are skipped.
pub(super) async fn versions(
    oci: &Oci,
    repo: &str,
    max: usize,
) -> Result<Vec<PackageVersion>, Error> {
    Ok(newest_versions(&tag_list(oci, repo).await?, max))
}

/// Every tag of the project, as the registry lists them.
pub(super) async fn tag_list(oci: &Oci, repo: &str) -> Result<Vec<String>, Error> {
    match oci.list_tags(repo).await {
        Ok(tags) => Ok(tags),
        Err(err @ OciError::NotFound { .. }) => Err(no_such_repository(oci, repo, err).await),
        Err(other) => Err(Error::Registry(other)),
    }
}

/// The versions among `tags`, newest first by PEP 440, at most `max` of them (0 = all).
pub(super) fn newest_versions(tags: &[String], max: usize) -> Vec<PackageVersion> {
    let mut versions: Vec<PackageVersion> = tags
        .iter()
        .filter_map(|tag| PackageVersion::from_tag(tag))
        .collect();
    versions.sort_unstable_by(|a, b| b.cmp(a));
    if max > 0 {
        versions.truncate(max);
    }
    versions
}

/// The tag list's 404, told as the registry meant it. A registry names the repository it
/// does not have (`NAME_UNKNOWN`); a 404 without a code may come from a server that is no
/// OCI registry at all (a web server, a wrong host), which its `GET /v2/` tells.
async fn no_such_repository(oci: &Oci, repo: &str, not_found: OciError) -> Error {
    let no_such_project = || {
        Error::NotFound(format!(
            "no such project: the registry has no repository `{repo}`"
        ))
    };
    if not_found.not_found_code().is_some() {
        return no_such_project();
    }
    match oci.check_api().await {
        Err(OciError::NotFound { .. }) => Error::Registry(OciError::InvalidResponse(format!(
            "{} does not answer as an OCI registry (GET /v2/ is 404 Not Found): check the \
             registry part of the index URL",
            oci.registry().authority()
        ))),
        _ => no_such_project(),
    }
}

/// What a version's tag holds.
pub(super) enum TagContent {
    /// No such tag (or repository): the registry said 404.
    Absent,
    /// A PyOCI version index, and its digest.
    Index(ImageIndex, Digest),
    /// Something else lives under the tag (an image, another tool's index); named for messages.
    Foreign(String),
    /// A document over [`layout::limits::MAX_INDEX_BYTES`], left unread: listed by nobody,
    /// changed by nobody.
    TooLarge,
}

/// Reads a version's tag. Only the registry's 404 means absent: an answer PyOCI cannot read
/// (an HTML page, a 3xx, an oversized document) is an error, never "no index", so no writer
/// ever starts over from an empty index and drops the files it could not see.
pub(super) async fn read_tag(
    oci: &Oci,
    repo: &str,
    version: &PackageVersion,
) -> Result<TagContent, Error> {
    let tag = version.tag();
    match oci
        .get_tagged_index_within(repo, &tag, layout::limits::MAX_INDEX_BYTES)
        .await
    {
        Ok(TaggedIndex::Index(index, digest)) => Ok(match foreign_index(&index) {
            Some(what) => TagContent::Foreign(what),
            None => {
                warn_oversized_annotations(repo, &tag, &index);
                TagContent::Index(index, digest)
            }
        }),
        Ok(TaggedIndex::Other { media_type }) => Ok(TagContent::Foreign(media_type)),
        Ok(TaggedIndex::TooLarge { .. }) => Ok(TagContent::TooLarge),
        Err(OciError::NotFound { .. }) => Ok(TagContent::Absent),
        Err(err) => Err(err.into()),
    }
}

/// Why an index is not a PyOCI version index: another `artifactType`, or entries of which
/// none is a file (a multi-platform image's index).
pub(super) fn foreign_index(index: &ImageIndex) -> Option<String> {
    if let Some(artifact_type) = &index.artifact_type {
        if artifact_type != layout::PACKAGE_MEDIA_TYPE {
            return Some(format!("an index of artifact type {artifact_type:?}"));
        }
    }
    let holds_a_file = index.manifests.iter().any(|entry| {
        entry
            .platform
            .as_ref()
            .is_some_and(|platform| layout::is_file_architecture(&platform.architecture))
    });
    (!index.manifests.is_empty() && !holds_a_file)
        .then(|| "an index without Python distribution files (an image?)".to_owned())
}

/// Logs the annotations of a version's index that pages leave out for being over their
/// bounds (written by another tool: PyOCI refuses them).
pub(super) fn warn_oversized_annotations(repo: &str, tag: &str, index: &ImageIndex) {
    let oversized = layout::limits::oversized_annotations(index);
    if !oversized.is_empty() {
        tracing::warn!(
            %repo,
            %tag,
            annotations = ?oversized,
            "the version's index has annotations over PyOCI's bounds: pages leave them out"
        );
    }
}

/// A version's image index for reading or changing it, or `None` when the tag does not
/// exist. A tag holding something else is a 409: PyOCI never writes over it.
pub(super) async fn read_index(
    oci: &Oci,
    repo: &str,
    version: &PackageVersion,
) -> Result<Option<(ImageIndex, Digest)>, Error> {
    version_index(read_tag(oci, repo, version).await?, repo, version)
}

/// What [`read_index`] makes of a tag's content.
pub(super) fn version_index(
    content: TagContent,
    repo: &str,
    version: &PackageVersion,
) -> Result<Option<(ImageIndex, Digest)>, Error> {
    match content {
        TagContent::Absent => Ok(None),
        TagContent::Index(index, digest) => Ok(Some((index, digest))),
        TagContent::Foreign(what) => Err(Error::Conflict(format!(
            "the tag {repo}:{} holds {what}, not a PyOCI package version; PyOCI leaves it \
             untouched. Remove or retag it with the registry's tools to publish this version",
            version.tag()
        ))),
        TagContent::TooLarge => Err(Error::Conflict(format!(
            "the tag {repo}:{} holds a document larger than {} bytes, PyOCI's bound for a \
             version's index; PyOCI neither lists nor changes it and leaves it untouched. \
             Remove it with the registry's tools to publish this version",
            version.tag(),
            layout::limits::MAX_INDEX_BYTES
        ))),
    }
}

/// The indexes of several versions, read concurrently (the store's listing concurrency
/// at once), in the order given. The caller's credentials must have been accepted for `repo`
/// since `read` (the listing's tag list): tags read less than `PYOCI_CACHE_TTL` ago and
/// documents by digest then come from the caches, unless `oci` bypasses caches.
pub(super) async fn read_indexes(
    store: &Store,
    oci: &Oci,
    repo: &str,
    versions: Vec<PackageVersion>,
    read: Snapshot,
) -> Result<Vec<(PackageVersion, Arc<ImageIndex>)>, Error> {
    let project = &Project::new(oci.registry(), repo);
    let caches = &*store.caches;
    let indexes: Vec<_> = stream::iter(versions)
        .map(|version| async move {
            let tag = version.tag();
            match cached_tag(caches, oci, project, &tag, read) {
                Some(TagTarget::Skipped) => return Ok(None),
                Some(TagTarget::Index(digest)) => {
                    if let Some(index) = caches.document(project, &digest) {
                        return Ok(Some((version, index)));
                    }
                    // Evicted: read the tag again.
                }
                None => {}
            }
            // Listings skip tags that hold something else, as they skip non-version tags.
            Ok::<_, Error>(match read_tag(oci, repo, &version).await? {
                TagContent::Index(index, digest) => Some((
                    version,
                    remember_index(caches, project, &tag, read, index, digest),
                )),
                TagContent::TooLarge => {
                    tracing::warn!(
                        %repo,
                        %tag,
                        limit = layout::limits::MAX_INDEX_BYTES,
                        "the version's index is over PyOCI's bound: listings skip the version"
                    );
                    caches.store_tag(project, &tag, read, TagTarget::Skipped);
                    None
                }
                TagContent::Absent | TagContent::Foreign(_) => {
                    caches.store_tag(project, &tag, read, TagTarget::Skipped);
                    None
                }
            })
        })
        .buffered(store.listing_concurrency)
        .try_collect()
        .await?;
    Ok(indexes.into_iter().flatten().collect())
}

/// What `tag` was read to hold less than a TTL ago, from the caches; `None` when `oci`
/// bypasses them or `read` rereads every tag (a page refreshed ahead of its expiry).
pub(super) fn cached_tag(
    caches: &Caches,
    oci: &Oci,
    project: &Project,
    tag: &str,
    read: Snapshot,
) -> Option<TagTarget> {
    (!oci.bypasses_caches() && !read.rereads_tags())
        .then(|| caches.tag(project, tag))
        .flatten()
}

/// Keeps what a version's tag was read (since `read`) to hold: the index by its digest, and
/// the tag for the TTL. Listings and downloads fill the caches alike. Returns the index,
/// shared.
pub(super) fn remember_index(
    caches: &Caches,
    project: &Project,
    tag: &str,
    read: Snapshot,
    index: ImageIndex,
    digest: Digest,
) -> Arc<ImageIndex> {
    let bytes = approx_bytes(&index);
    let index = Arc::new(index);
    caches.store_document(project, &digest, index.clone(), bytes);
    caches.store_tag(project, tag, read, TagTarget::Index(digest));
    index
}

/// About the bytes an index takes in memory, for the cache's bound: its entries' strings
/// plus a fixed share per entry (digests, sizes, map nodes). Cheaper than serializing it.
pub(super) fn approx_bytes(index: &ImageIndex) -> usize {
    const PER_ENTRY: usize = 256;
    index
        .manifests
        .iter()
        .map(|entry| {
            let annotations: usize = entry
                .annotations
                .iter()
                .map(|(key, value)| key.len() + value.len())
                .sum();
            PER_ENTRY + entry.media_type.len() + annotations
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use pyoci_oci::{Descriptor, Platform, OCI_MANIFEST_MEDIA_TYPE};

    use super::*;

    fn entry(platform: Option<(&str, &str)>) -> Descriptor {
        let mut entry = Descriptor::new(OCI_MANIFEST_MEDIA_TYPE, Digest::sha256_of(b"m"), 10);
        entry.platform = platform.map(|(architecture, os)| Platform::new(architecture, os));
        entry
    }

    #[test]
    fn only_indexes_of_python_files_are_ours() {
        let ours = ImageIndex::new(vec![entry(Some(("py3-none-any.whl", "any"))), entry(None)]);
        assert_eq!(foreign_index(&ours), None);
        assert_eq!(foreign_index(&ImageIndex::new(Vec::new())), None);
        let mut tagged = ImageIndex::new(vec![entry(Some((".tar.gz", "any")))]);
        tagged.artifact_type = Some(layout::PACKAGE_MEDIA_TYPE.to_owned());
        assert_eq!(foreign_index(&tagged), None);

        let image = ImageIndex::new(vec![
            entry(Some(("amd64", "linux"))),
            entry(Some(("arm64", "linux"))),
        ]);
        assert!(foreign_index(&image).is_some());
        let mut helm = ImageIndex::new(vec![entry(Some((".tar.gz", "any")))]);
        helm.artifact_type = Some("application/vnd.cncf.helm.chart".to_owned());
        assert!(foreign_index(&helm)
            .is_some_and(|what| what.contains("application/vnd.cncf.helm.chart")));
    }
}

#[cfg(test)]
mod registry_or_not {
    use pyoci_oci::{
        test_util::{alice, requests, respond, stub_registry, stub_service},
        OciClient,
    };
    use tower::util::BoxCloneSyncService;

    use super::*;

    /// A client of a server answering every path with `status` and `body`, and its log.
    fn client_of(status: u16, body: &'static str) -> (Oci, pyoci_oci::test_util::Log) {
        let (service, log) = stub_service(move |request| match request.path() {
            "/v2/" if status == 404 && body.starts_with('{') => respond(200, &[], "{}"),
            _ => respond(status, &[], body),
        });
        let oci = OciClient::new(BoxCloneSyncService::new(service), stub_registry(), alice());
        (oci, log)
    }

    #[tokio::test]
    async fn a_server_that_is_no_registry_is_told_apart_from_a_missing_project() {
        let (web_server, log) = client_of(404, "<html>Not Found</html>");
        let error = versions(&web_server, "acme/hello", 0).await.unwrap_err();
        assert_eq!(error.status(), http::StatusCode::BAD_GATEWAY);
        assert!(
            error
                .to_string()
                .contains("does not answer as an OCI registry"),
            "{error}"
        );
        let paths: Vec<String> = requests(&log).iter().map(|r| r.path().to_owned()).collect();
        assert_eq!(paths, ["/v2/acme/hello/tags/list", "/v2/"]);

        let unknown =
            r#"{"errors":[{"code":"NAME_UNKNOWN","message":"repository name not known"}]}"#;
        let (registry, log) = client_of(404, unknown);
        let error = versions(&registry, "acme/hello", 0).await.unwrap_err();
        assert_eq!(error.status(), http::StatusCode::NOT_FOUND);
        assert!(error.to_string().starts_with("no such project"), "{error}");
        assert_eq!(
            requests(&log).len(),
            1,
            "a registry's NAME_UNKNOWN needs no check"
        );
    }
}
