use std::future::Future;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, IF_MATCH, IF_NONE_MATCH};
use http::{HeaderMap, HeaderValue, Method};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::client::RegistryHttp;
use crate::error::{check, not_found_code, read_within};
use crate::names::{normalize_repository, validate_reference};
use crate::{
    Descriptor, Digest, ImageIndex, ImageManifest, Manifest, OciClient, OciError,
    OCI_INDEX_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE,
};

/// The header in which registries send a manifest's digest.
pub(crate) const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";
/// Registries refuse manifests above 4 MiB; refusing to read more protects our memory.
const MANIFEST_LIMIT: usize = 4 * 1024 * 1024;

/// Media type of a Docker image manifest (schema 2).
pub const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Media type of a Docker manifest list (multi-platform image).
pub const DOCKER_MANIFEST_LIST_MEDIA_TYPE: &str =
    "application/vnd.docker.distribution.manifest.list.v2+json";
/// Media type of a signed Docker schema 1 manifest.
const DOCKER_SCHEMA1_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// Every manifest type a registry may hold under a tag. Reading a tag with all of them
/// accepted is what tells "another kind of document" from "nothing": a registry answers a
/// type left out of `Accept` with 404 `MANIFEST_UNKNOWN` (distribution 2.8 does), which would
/// read as an absent tag.
const ANY_MANIFEST: [&str; 5] = [
    OCI_INDEX_MEDIA_TYPE,
    OCI_MANIFEST_MEDIA_TYPE,
    DOCKER_MANIFEST_LIST_MEDIA_TYPE,
    DOCKER_MANIFEST_MEDIA_TYPE,
    DOCKER_SCHEMA1_MEDIA_TYPE,
];

/// What a tag read with [`OciClient::get_tagged_index`] holds.
#[derive(Debug)]
pub enum TaggedIndex {
    /// An OCI image index, and its digest.
    Index(ImageIndex, Digest),
    /// A manifest of another kind (an image, a Docker manifest list...), with its media type.
    Other {
        /// The `Content-Type` the registry gave it.
        media_type: String,
    },
    /// A document larger than the limit the read was given, left unread.
    TooLarge {
        /// That limit, in bytes.
        limit: usize,
    },
}

impl<S: RegistryHttp> OciClient<S> {
    /// Fetches the manifest `reference` (a tag or a digest) of `repository`, accepting the
    /// media types in `accept` (registries answer 404 for a type not listed).
    ///
    /// When `reference` is a digest, the bytes are checked against it.
    pub fn get_manifest(
        &self,
        repository: &str,
        reference: &str,
        accept: &[&str],
    ) -> impl Future<Output = Result<Manifest, OciError>> + Send + 'static {
        let manifest = self.get_manifest_within(repository, reference, accept, MANIFEST_LIMIT);
        async move {
            manifest.await?.ok_or_else(|| {
                OciError::InvalidResponse(format!(
                    "the manifest is larger than {MANIFEST_LIMIT} bytes"
                ))
            })
        }
    }

    /// [`get_manifest`](Self::get_manifest), reading at most `limit` bytes: `None` for a
    /// larger document, which is not read further.
    fn get_manifest_within(
        &self,
        repository: &str,
        reference: &str,
        accept: &[&str],
        limit: usize,
    ) -> impl Future<Output = Result<Option<Manifest>, OciError>> + Send + 'static {
        let client = self.clone();
        let repository = normalize_repository(repository);
        let reference = reference.to_owned();
        let accept = HeaderValue::from_str(&accept.join(", ")).map_err(|_| {
            OciError::InvalidInput(format!("invalid media types to accept: {accept:?}"))
        });
        async move {
            let repository = repository?;
            validate_reference(&reference)?;
            let what = manifest_name(&repository, &reference);
            let target = client
                .registry
                .target(&format!("/v2/{repository}/manifests/{reference}"))?;
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT, accept?);
            let response = client
                .send(Method::GET, &target, headers, reqwest::Body::default())
                .await?;
            let response = check(&Method::GET, response, &what).await?;
            let (parts, body) = response.into_parts();
            let announced = parts
                .headers
                .get(CONTENT_LENGTH)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.parse::<u64>().ok());
            if announced.is_some_and(|length| length > limit as u64) {
                return Ok(None);
            }
            let Some(bytes) = read_within(body, limit, "manifest").await? else {
                return Ok(None);
            };
            let computed = Digest::sha256_of(&bytes);
            if reference.contains(':') && computed.as_str() != reference {
                return Err(OciError::InvalidResponse(format!(
                    "{what} came back with content of digest {computed}"
                )));
            }
            let digest = header_digest(&parts.headers).unwrap_or(computed);
            let media_type = media_type_of(&parts.headers, &bytes);
            Ok(Some(Manifest {
                media_type,
                digest,
                bytes,
            }))
        }
    }

    /// Fetches an OCI image index; an error if `reference` is anything else.
    pub fn get_index(
        &self,
        repository: &str,
        reference: &str,
    ) -> impl Future<Output = Result<(ImageIndex, Digest), OciError>> + Send + 'static {
        let manifest = self.get_manifest(repository, reference, &[OCI_INDEX_MEDIA_TYPE]);
        let what = format!("{}:{reference}", repository.to_ascii_lowercase());
        async move { parse_typed::<ImageIndex>(manifest.await?, OCI_INDEX_MEDIA_TYPE, &what) }
    }

    /// Fetches the document tagged `tag`, accepting every manifest type: an OCI image index,
    /// or [`TaggedIndex::Other`] for another manifest kind. [`OciError::NotFound`] only when
    /// the registry says the tag (or repository) does not exist: a 404 with a distribution
    /// error code saying so (`MANIFEST_UNKNOWN`, `NAME_UNKNOWN`, or Harbor's `NOT_FOUND`).
    /// Anything else (an HTML page from a proxy, a 404 page without a code, a truncated
    /// document) is [`OciError::InvalidResponse`], never taken for absence; a document over
    /// the 4 MiB registries accept is [`TaggedIndex::TooLarge`].
    pub fn get_tagged_index(
        &self,
        repository: &str,
        tag: &str,
    ) -> impl Future<Output = Result<TaggedIndex, OciError>> + Send + 'static {
        self.get_tagged_index_within(repository, tag, MANIFEST_LIMIT)
    }

    /// [`get_tagged_index`](Self::get_tagged_index), reading at most `limit` bytes: a
    /// larger document is [`TaggedIndex::TooLarge`], and is not read further.
    pub fn get_tagged_index_within(
        &self,
        repository: &str,
        tag: &str,
        limit: usize,
    ) -> impl Future<Output = Result<TaggedIndex, OciError>> + Send + 'static {
        let manifest = self.get_manifest_within(repository, tag, &ANY_MANIFEST, limit);
        let what = format!("{}:{tag}", repository.to_ascii_lowercase());
        async move {
            let manifest = match manifest.await {
                Err(OciError::NotFound { what }) if !says_absent(&what) => {
                    return Err(OciError::InvalidResponse(format!(
                        "404 for {what} without a distribution error code saying the tag is \
                         unknown (a proxy's page?)"
                    )))
                }
                other => other?,
            };
            let Some(manifest) = manifest else {
                return Ok(TaggedIndex::TooLarge { limit });
            };
            let media_type = manifest.media_type.clone();
            if media_type == OCI_INDEX_MEDIA_TYPE || media_type.is_empty() {
                let (index, digest) =
                    parse_typed::<ImageIndex>(manifest, OCI_INDEX_MEDIA_TYPE, &what)?;
                return Ok(TaggedIndex::Index(index, digest));
            }
            if ANY_MANIFEST.contains(&media_type.as_str()) {
                return Ok(TaggedIndex::Other { media_type });
            }
            Err(OciError::InvalidResponse(format!(
                "{what} came back as {media_type:?}, which is not a manifest type"
            )))
        }
    }

    /// Fetches an OCI image manifest; an error if `reference` is anything else.
    pub fn get_image_manifest(
        &self,
        repository: &str,
        reference: &str,
    ) -> impl Future<Output = Result<(ImageManifest, Digest), OciError>> + Send + 'static {
        let manifest = self.get_manifest(repository, reference, &[OCI_MANIFEST_MEDIA_TYPE]);
        let what = format!("{}:{reference}", repository.to_ascii_lowercase());
        async move { parse_typed::<ImageManifest>(manifest.await?, OCI_MANIFEST_MEDIA_TYPE, &what) }
    }

    /// Stores `bytes` as manifest `reference` (a tag or a digest) with `Content-Type`
    /// `media_type`, which must equal the document's `mediaType`. Returns its digest.
    pub fn put_manifest(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> impl Future<Output = Result<Digest, OciError>> + Send + 'static {
        self.put_manifest_if(repository, reference, media_type, bytes, Precondition::None)
    }

    /// [`put_manifest`](Self::put_manifest) as a conditional request (RFC 9110 13.1): a
    /// registry that honours the condition refuses the write with 412 Precondition Failed
    /// ([`OciError::is_precondition_failed`]) when `reference` changed since it was read. A
    /// registry that ignores the condition (most do today) simply writes.
    pub fn put_manifest_if(
        &self,
        repository: &str,
        reference: &str,
        media_type: &str,
        bytes: Bytes,
        precondition: Precondition,
    ) -> impl Future<Output = Result<Digest, OciError>> + Send + 'static {
        let client = self.clone();
        let repository = normalize_repository(repository);
        let reference = reference.to_owned();
        let content_type = HeaderValue::from_str(media_type)
            .map_err(|_| OciError::InvalidInput(format!("invalid media type {media_type:?}")));
        async move {
            let repository = repository?;
            validate_reference(&reference)?;
            let what = manifest_name(&repository, &reference);
            let target = client
                .registry
                .target(&format!("/v2/{repository}/manifests/{reference}"))?;
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, content_type?);
            precondition.add_to(&mut headers)?;
            let computed = Digest::sha256_of(&bytes);
            let response = client
                .send(Method::PUT, &target, headers, reqwest::Body::from(bytes))
                .await?;
            let response = check(&Method::PUT, response, &what).await?;
            Ok(header_digest(response.headers()).unwrap_or(computed))
        }
    }

    /// Stores `index` under `tag`. Returns its digest.
    pub fn put_index(
        &self,
        repository: &str,
        tag: &str,
        index: &ImageIndex,
    ) -> impl Future<Output = Result<Digest, OciError>> + Send + 'static {
        self.put_index_if(repository, tag, index, Precondition::None)
    }

    /// Stores `index` under `tag` if the tag is still as `precondition` says (see
    /// [`put_manifest_if`](Self::put_manifest_if)). Returns its digest.
    pub fn put_index_if(
        &self,
        repository: &str,
        tag: &str,
        index: &ImageIndex,
        precondition: Precondition,
    ) -> impl Future<Output = Result<Digest, OciError>> + Send + 'static {
        let bytes = to_json(index);
        let client = self.clone();
        let repository = repository.to_owned();
        let tag = tag.to_owned();
        let media_type = index.media_type.clone();
        async move {
            client
                .put_manifest_if(&repository, &tag, &media_type, bytes?, precondition)
                .await
        }
    }

    /// Stores `manifest` by its digest and returns its descriptor (media type, digest, size),
    /// ready to be given a platform and annotations and put into an index.
    pub fn put_image_manifest(
        &self,
        repository: &str,
        manifest: &ImageManifest,
    ) -> impl Future<Output = Result<Descriptor, OciError>> + Send + 'static {
        let bytes = to_json(manifest);
        let client = self.clone();
        let repository = repository.to_owned();
        let media_type = manifest.media_type.clone();
        async move {
            let bytes = bytes?;
            let digest = Digest::sha256_of(&bytes);
            let size = bytes.len() as u64;
            client
                .put_manifest(&repository, digest.as_str(), &media_type, bytes)
                .await?;
            Ok(Descriptor::new(media_type, digest, size))
        }
    }

    /// Deletes the manifest `digest`, which also removes every tag pointing to it.
    /// [`OciError::DeleteUnsupported`] when the registry does not allow deletes.
    pub fn delete_manifest(
        &self,
        repository: &str,
        digest: &Digest,
    ) -> impl Future<Output = Result<(), OciError>> + Send + 'static {
        let client = self.clone();
        let repository = normalize_repository(repository);
        let digest = digest.clone();
        async move {
            let repository = repository?;
            let what = manifest_name(&repository, digest.as_str());
            let response = client
                .send_bodiless(
                    Method::DELETE,
                    &format!("/v2/{repository}/manifests/{digest}"),
                )
                .await?;
            check(&Method::DELETE, response, &what).await?;
            Ok(())
        }
    }
}

/// What a conditional manifest write expects to find under its reference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// Nothing: write unconditionally.
    None,
    /// The manifest with this digest, as read before (`If-Match: "<digest>"`; registries
    /// send a manifest's digest as its `ETag`).
    Matches(Digest),
    /// No manifest at all, as read before (`If-None-Match: *`).
    Absent,
}

impl Precondition {
    fn add_to(&self, headers: &mut HeaderMap) -> Result<(), OciError> {
        match self {
            Precondition::None => {}
            Precondition::Matches(digest) => {
                let etag = HeaderValue::from_str(&format!("\"{digest}\"")).map_err(|_| {
                    OciError::InvalidInput(format!("digest {digest} is not a valid entity tag"))
                })?;
                headers.insert(IF_MATCH, etag);
            }
            Precondition::Absent => {
                headers.insert(IF_NONE_MATCH, HeaderValue::from_static("*"));
            }
        }
        Ok(())
    }
}

/// Whether a 404's error code says the tag or repository does not exist.
fn says_absent(what: &str) -> bool {
    not_found_code(what).is_some_and(|code| {
        ["MANIFEST_UNKNOWN", "NAME_UNKNOWN", "NOT_FOUND"]
            .iter()
            .any(|absent| code.eq_ignore_ascii_case(absent))
    })
}

fn manifest_name(repository: &str, reference: &str) -> String {
    if reference.contains(':') {
        format!("manifest {repository}@{reference}")
    } else {
        format!("manifest {repository}:{reference}")
    }
}

fn to_json<T: serde::Serialize>(document: &T) -> Result<Bytes, OciError> {
    serde_json::to_vec(document)
        .map(Bytes::from)
        .map_err(|error| OciError::InvalidInput(format!("cannot serialize the manifest: {error}")))
}

/// The digest a registry sent in `Docker-Content-Digest`, when it is a valid sha256 digest.
pub(crate) fn header_digest(headers: &HeaderMap) -> Option<Digest> {
    let value = headers.get(DOCKER_CONTENT_DIGEST)?.to_str().ok()?;
    Digest::parse(value.trim()).ok()
}

#[derive(Deserialize)]
struct MediaTypeField {
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
}

/// The media type from `Content-Type`, or from the document's `mediaType` when the header is
/// missing or generic JSON.
fn media_type_of(headers: &HeaderMap, bytes: &[u8]) -> String {
    let header = headers
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .map(|value| value.trim().to_ascii_lowercase())
        .filter(|value| {
            !value.is_empty() && value != "application/json" && value != "application/octet-stream"
        });
    header
        .or_else(|| {
            serde_json::from_slice::<MediaTypeField>(bytes)
                .ok()
                .and_then(|field| field.media_type)
        })
        .unwrap_or_default()
}

/// Parses a fetched manifest as `T`, refusing other media types.
fn parse_typed<T: DeserializeOwned + HasMediaType>(
    manifest: Manifest,
    expected: &str,
    what: &str,
) -> Result<(T, Digest), OciError> {
    let wrong_type = |found: &str| {
        OciError::InvalidResponse(format!(
            "{what} has media type {found:?}, expected {expected:?}"
        ))
    };
    if !manifest.media_type.is_empty() && manifest.media_type != expected {
        return Err(wrong_type(&manifest.media_type));
    }
    let document: T = serde_json::from_slice(&manifest.bytes).map_err(|error| {
        OciError::InvalidResponse(format!("{what} is not a valid {expected}: {error}"))
    })?;
    if document.media_type() != expected {
        return Err(wrong_type(document.media_type()));
    }
    Ok((document, manifest.digest))
}

trait HasMediaType {
    fn media_type(&self) -> &str;
}

impl HasMediaType for ImageIndex {
    fn media_type(&self) -> &str {
        &self.media_type
    }
}

impl HasMediaType for ImageManifest {
    fn media_type(&self) -> &str {
        &self.media_type
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{alice, requests, respond, stub_client};
    use crate::{Platform, EMPTY_CONFIG_MEDIA_TYPE};

    const INDEX: &str = r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],"x-extra":1}"#;
    const DIGEST_FROM_HEADER: &str =
        "sha256:1111111111111111111111111111111111111111111111111111111111111111";

    #[tokio::test]
    async fn get_sends_accept_and_reads_docker_content_digest() {
        let (client, log) = stub_client(|_| {
            respond(
                200,
                &[
                    ("content-type", OCI_INDEX_MEDIA_TYPE),
                    ("docker-content-digest", DIGEST_FROM_HEADER),
                ],
                INDEX,
            )
        });
        let manifest = client
            .get_manifest(
                "Acme/Hello",
                "1.0.0",
                &[OCI_INDEX_MEDIA_TYPE, OCI_MANIFEST_MEDIA_TYPE],
            )
            .await
            .unwrap();
        assert_eq!(manifest.media_type, OCI_INDEX_MEDIA_TYPE);
        assert_eq!(manifest.digest.as_str(), DIGEST_FROM_HEADER);
        assert_eq!(manifest.bytes, INDEX.as_bytes());
        let [request] = requests(&log).try_into().unwrap();
        assert_eq!(request.method, Method::GET);
        assert_eq!(
            request.uri,
            "https://registry.test/v2/acme/hello/manifests/1.0.0"
        );
        assert_eq!(
            request.headers[ACCEPT],
            "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json"
        );
        assert_eq!(request.credentials, Some(alice()));
    }

    #[tokio::test]
    async fn without_headers_digest_is_computed_and_media_type_read_from_the_document() {
        let (client, _) =
            stub_client(|_| respond(200, &[("content-type", "application/json")], INDEX));
        let (index, digest) = client.get_index("acme/hello", "1.0.0").await.unwrap();
        assert_eq!(digest, Digest::sha256_of(INDEX.as_bytes()));
        assert_eq!(index.extra["x-extra"], 1);
    }

    #[tokio::test]
    async fn fetching_by_digest_checks_the_content() {
        let (client, _) = stub_client(|_| respond(200, &[], INDEX));
        let right = Digest::sha256_of(INDEX.as_bytes());
        let manifest = client
            .get_manifest("a", right.as_str(), &[OCI_INDEX_MEDIA_TYPE])
            .await
            .unwrap();
        assert_eq!(manifest.digest, right);
        let wrong = Digest::sha256_of(b"something else");
        let error = client
            .get_manifest("a", wrong.as_str(), &[OCI_INDEX_MEDIA_TYPE])
            .await
            .unwrap_err();
        assert!(matches!(error, OciError::InvalidResponse(_)), "{error:?}");
    }

    #[tokio::test]
    async fn get_index_refuses_other_documents() {
        let manifest =
            serde_json::to_string(&ImageManifest::new(Descriptor::empty_config(), vec![])).unwrap();
        let cases = [
            (OCI_MANIFEST_MEDIA_TYPE, manifest.clone()),
            ("application/json", manifest),
            (
                "application/vnd.docker.distribution.manifest.list.v2+json",
                INDEX.to_owned(),
            ),
        ];
        for (content_type, body) in cases {
            let (client, _) =
                stub_client(move |_| respond(200, &[("content-type", content_type)], &body));
            let error = client.get_index("a", "latest").await.unwrap_err();
            assert!(
                matches!(error, OciError::InvalidResponse(_)),
                "{content_type}: {error:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_tag_read_tells_an_index_from_another_manifest_from_garbage() {
        let (client, log) =
            stub_client(|_| respond(200, &[("content-type", OCI_INDEX_MEDIA_TYPE)], INDEX));
        let read = client.get_tagged_index("a", "1.0").await.unwrap();
        assert!(matches!(read, TaggedIndex::Index(..)), "{read:?}");
        let [request] = requests(&log).try_into().unwrap();
        for media_type in ANY_MANIFEST {
            assert!(
                request.headers[ACCEPT]
                    .to_str()
                    .unwrap()
                    .contains(media_type),
                "every manifest type is accepted, so none reads as a 404: {media_type}"
            );
        }

        let manifest =
            serde_json::to_string(&ImageManifest::new(Descriptor::empty_config(), vec![])).unwrap();
        for media_type in [OCI_MANIFEST_MEDIA_TYPE, DOCKER_MANIFEST_LIST_MEDIA_TYPE] {
            let body = manifest.clone();
            let (client, _) =
                stub_client(move |_| respond(200, &[("content-type", media_type)], &body));
            match client.get_tagged_index("a", "1.0").await.unwrap() {
                TaggedIndex::Other { media_type: found } => assert_eq!(found, media_type),
                other => panic!("{media_type}: {other:?}"),
            }
        }

        let garbage: [(u16, &str, &str); 4] = [
            (200, "text/html", "<html>sign in</html>"),
            (200, "", "<html>sign in</html>"),
            (200, OCI_INDEX_MEDIA_TYPE, "{not json"),
            (302, "text/plain", "moved"),
        ];
        for (status, content_type, body) in garbage {
            let (client, _) =
                stub_client(move |_| respond(status, &[("content-type", content_type)], body));
            let error = client.get_tagged_index("a", "1.0").await.unwrap_err();
            assert!(
                matches!(error, OciError::InvalidResponse(_)),
                "{status} {content_type}: {error:?}"
            );
        }

        let (client, _) = stub_client(|_| {
            respond(
                404,
                &[],
                r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
            )
        });
        let error = client.get_tagged_index("a", "1.0").await.unwrap_err();
        assert!(matches!(error, OciError::NotFound { .. }), "{error:?}");

        for body in [
            "<html>404 Not Found</html>",
            r#"{"errors":[{"code":"DENIED"}]}"#,
        ] {
            let (client, _) = stub_client(move |_| respond(404, &[], body));
            let error = client.get_tagged_index("a", "1.0").await.unwrap_err();
            assert!(
                matches!(error, OciError::InvalidResponse(_)),
                "a 404 without a not-found code is no proof of absence: {body}: {error:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_tag_read_within_a_limit_reports_a_larger_document_unread() {
        let padded = format!(
            r#"{{"schemaVersion":2,"mediaType":"{OCI_INDEX_MEDIA_TYPE}","manifests":[],"annotations":{{"x":"{}"}}}}"#,
            "x".repeat(2000)
        );
        let body = padded.clone();
        let (client, _) =
            stub_client(move |_| respond(200, &[("content-type", OCI_INDEX_MEDIA_TYPE)], &body));
        match client.get_tagged_index_within("a", "1.0", 1000).await {
            Ok(TaggedIndex::TooLarge { limit }) => assert_eq!(limit, 1000),
            other => panic!("{other:?}"),
        }
        let read = client
            .get_tagged_index_within("a", "1.0", padded.len())
            .await
            .unwrap();
        assert!(matches!(read, TaggedIndex::Index(..)), "{read:?}");
        // Where the registry announces the length, the body is not read at all.
        let announced = padded.len().to_string();
        let (client, _) = stub_client(move |_| {
            respond(
                200,
                &[
                    ("content-type", OCI_INDEX_MEDIA_TYPE),
                    ("content-length", &announced),
                ],
                "",
            )
        });
        let read = client.get_tagged_index_within("a", "1.0", 1000).await;
        assert!(matches!(read, Ok(TaggedIndex::TooLarge { .. })), "{read:?}");
    }

    #[tokio::test]
    async fn put_sends_content_type_and_returns_the_digest() {
        let (client, log) = stub_client(|request| {
            let digest = Digest::sha256_of(&request.body);
            respond(201, &[("docker-content-digest", digest.as_str())], "")
        });
        let mut entry = Descriptor::new(OCI_MANIFEST_MEDIA_TYPE, Digest::sha256_of(b"m"), 1);
        entry.platform = Some(Platform::new(".tar.gz", "any"));
        let index = ImageIndex::new(vec![entry]);
        let digest = client
            .put_index("Acme/Hello", "1.0.0", &index)
            .await
            .unwrap();
        let [request] = requests(&log).try_into().unwrap();
        assert_eq!(request.method, Method::PUT);
        assert_eq!(
            request.uri,
            "https://registry.test/v2/acme/hello/manifests/1.0.0"
        );
        assert_eq!(request.headers[CONTENT_TYPE], OCI_INDEX_MEDIA_TYPE);
        assert!(!request.streamed, "small documents are replayable");
        assert_eq!(digest, Digest::sha256_of(&request.body));
        let sent: ImageIndex = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(sent, index);
    }

    #[tokio::test]
    async fn conditional_puts_send_if_match_or_if_none_match() {
        let (client, log) = stub_client(|request| {
            if request.headers.contains_key(IF_MATCH) {
                respond(
                    412,
                    &[],
                    r#"{"errors":[{"code":"UNKNOWN","message":"changed"}]}"#,
                )
            } else {
                respond(201, &[], "")
            }
        });
        let index = ImageIndex::new(vec![]);
        let read = Digest::sha256_of(b"the index read before");
        let refused = client
            .put_index_if(
                "acme/hello",
                "1.0.0",
                &index,
                Precondition::Matches(read.clone()),
            )
            .await
            .unwrap_err();
        assert!(refused.is_precondition_failed(), "{refused:?}");
        client
            .put_index_if("acme/hello", "1.0.0", &index, Precondition::Absent)
            .await
            .unwrap();
        client
            .put_index("acme/hello", "1.0.0", &index)
            .await
            .unwrap();
        let [matches, absent, plain] = requests(&log).try_into().unwrap();
        assert_eq!(matches.headers[IF_MATCH], format!("\"{read}\""));
        assert!(!matches.headers.contains_key(IF_NONE_MATCH));
        assert_eq!(absent.headers[IF_NONE_MATCH], "*");
        assert!(!absent.headers.contains_key(IF_MATCH));
        assert!(
            !plain.headers.contains_key(IF_MATCH) && !plain.headers.contains_key(IF_NONE_MATCH)
        );
        let other = OciError::Rejected {
            status: http::StatusCode::CONFLICT,
            code: None,
            message: String::new(),
        };
        assert!(!other.is_precondition_failed());
    }

    #[tokio::test]
    async fn reads_bypassing_caches_say_so_and_carry_extensions() {
        let (client, log) = stub_client(|_| respond(200, &[], INDEX));
        let client = client.with_extension(7u32);
        client.get_index("acme/hello", "1.0.0").await.unwrap();
        let fresh = client.clone().bypassing_caches();
        fresh.get_index("acme/hello", "1.0.0").await.unwrap();
        fresh
            .put_index("acme/hello", "1.0.0", &ImageIndex::new(vec![]))
            .await
            .unwrap();
        let [cached, uncached, write] = requests(&log).try_into().unwrap();
        assert!(!cached.headers.contains_key(http::header::CACHE_CONTROL));
        assert!(cached.extensions.get::<crate::BypassCaches>().is_none());
        assert_eq!(uncached.headers[http::header::CACHE_CONTROL], "no-cache");
        assert!(uncached.extensions.get::<crate::BypassCaches>().is_some());
        assert!(!write.headers.contains_key(http::header::CACHE_CONTROL));
        for request in [&cached, &uncached, &write] {
            assert_eq!(request.extensions.get::<u32>(), Some(&7));
            assert_eq!(
                request.credentials,
                Some(alice()),
                "credentials still ride along"
            );
        }
    }

    #[tokio::test]
    async fn image_manifests_are_pushed_by_digest() {
        let (client, log) = stub_client(|_| respond(201, &[], ""));
        let mut manifest = ImageManifest::new(
            Descriptor::empty_config(),
            vec![Descriptor::new(
                "application/pyoci.package.v1",
                Digest::sha256_of(b"f"),
                1,
            )],
        );
        manifest.artifact_type = Some("application/pyoci.package.v1".into());
        let descriptor = client
            .put_image_manifest("acme/hello", &manifest)
            .await
            .unwrap();
        let [request] = requests(&log).try_into().unwrap();
        assert_eq!(descriptor.media_type, OCI_MANIFEST_MEDIA_TYPE);
        assert_eq!(descriptor.digest, Digest::sha256_of(&request.body));
        assert_eq!(descriptor.size, request.body.len() as u64);
        assert_eq!(
            request.uri,
            format!(
                "https://registry.test/v2/acme/hello/manifests/{}",
                descriptor.digest
            )
        );
        assert_eq!(request.headers[CONTENT_TYPE], OCI_MANIFEST_MEDIA_TYPE);
        let sent: ImageManifest = serde_json::from_slice(&request.body).unwrap();
        assert_eq!(sent.config.media_type, EMPTY_CONFIG_MEDIA_TYPE);
    }

    #[tokio::test]
    async fn delete_targets_the_digest() {
        let (client, log) = stub_client(|_| respond(202, &[], ""));
        let digest = Digest::sha256_of(b"m");
        client.delete_manifest("Acme/Hello", &digest).await.unwrap();
        let [request] = requests(&log).try_into().unwrap();
        assert_eq!(request.method, Method::DELETE);
        assert_eq!(
            request.uri,
            format!("https://registry.test/v2/acme/hello/manifests/{digest}")
        );
    }

    #[tokio::test]
    async fn invalid_references_are_never_sent() {
        let (client, log) = stub_client(|_| respond(200, &[], INDEX));
        for reference in ["1.0.0+local", "../x", "sha256:short", ""] {
            let error = client.get_index("a", reference).await.unwrap_err();
            assert!(
                matches!(error, OciError::InvalidInput(_)),
                "{reference}: {error:?}"
            );
        }
        assert!(requests(&log).is_empty());
    }
}
