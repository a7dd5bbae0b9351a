use std::future::Future;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, LOCATION, PROXY_AUTHORIZATION};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};

use crate::error::check;
use crate::names::normalize_repository;
use crate::registry::Target;
use crate::{client::RegistryHttp, Digest, HandOverRedirects, OciClient, OciError};

/// A blob download as the registry answered it.
pub enum BlobDownload {
    /// The bytes, streamed (`206` for a range).
    Bytes(Response<reqwest::Body>),
    /// The registry sent the download to this absolute URL on another origin (storage,
    /// with a short-lived signature), where it is served without credentials.
    Elsewhere(String),
}

const OCTET_STREAM: &str = "application/octet-stream";

impl<S: RegistryHttp> OciClient<S> {
    /// Whether the blob `digest` exists in `repository` (HEAD; 404 means no).
    pub fn blob_exists(
        &self,
        repository: &str,
        digest: &Digest,
    ) -> impl Future<Output = Result<bool, OciError>> + Send + 'static {
        let client = self.clone();
        let repository = normalize_repository(repository);
        let digest = digest.clone();
        async move {
            let repository = repository?;
            let response = client
                .send_bodiless(Method::HEAD, &format!("/v2/{repository}/blobs/{digest}"))
                .await?;
            if response.status() == StatusCode::NOT_FOUND {
                return Ok(false);
            }
            check(&Method::HEAD, response, &blob_name(&repository, &digest)).await?;
            Ok(true)
        }
    }

    /// Uploads a small blob held in memory (a config, a metadata file) in one `PUT`,
    /// unless the registry already has it. The registry checks `bytes` against `digest`.
    pub fn push_blob(
        &self,
        repository: &str,
        digest: &Digest,
        bytes: Bytes,
    ) -> impl Future<Output = Result<(), OciError>> + Send + 'static {
        let client = self.clone();
        let repository = repository.to_owned();
        let digest = digest.clone();
        async move {
            if client.blob_exists(&repository, &digest).await? {
                return Ok(());
            }
            let location = client.open_upload(&repository).await?;
            let target = location.with_query_param("digest", digest.as_str())?;
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(OCTET_STREAM));
            let response = client
                .send(Method::PUT, &target, headers, reqwest::Body::from(bytes))
                .await?;
            let what = blob_name(&repository.to_ascii_lowercase(), &digest);
            match check(&Method::PUT, response, &what).await {
                Ok(_) => Ok(()),
                // Blobs are content-addressed: when a concurrent push of the same bytes won
                // the race (the distribution registry then refuses ours), the blob is there.
                Err(err) => match client.blob_exists(&repository, &digest).await {
                    Ok(true) => Ok(()),
                    _ => Err(err),
                },
            }
        }
    }

    /// Downloads the blob `digest`, streamed. Registries may redirect to storage; the
    /// wrapped HTTP client follows, dropping `Authorization` when the host changes.
    pub fn get_blob(
        &self,
        repository: &str,
        digest: &Digest,
    ) -> impl Future<Output = Result<Response<reqwest::Body>, OciError>> + Send + 'static {
        self.get_blob_with(repository, digest, HeaderMap::new())
    }

    /// [`get_blob`](Self::get_blob) with extra request headers, such as `Range` (the answer
    /// is then `206 Partial Content`). `Authorization`, `Proxy-Authorization` and `Host` are
    /// dropped: credentials only travel as the request's [`Credentials`](pyoci_core::Credentials).
    pub fn get_blob_with(
        &self,
        repository: &str,
        digest: &Digest,
        extra_headers: HeaderMap,
    ) -> impl Future<Output = Result<Response<reqwest::Body>, OciError>> + Send + 'static {
        let get = self.blob_get(repository, digest, extra_headers);
        async move {
            let (response, _, what) = get.await?;
            check(&Method::GET, response, &what).await
        }
    }

    /// [`get_blob_with`](Self::get_blob_with), except that a redirect to another origin
    /// (ghcr.io, ACR and ECR send downloads to storage with a signed URL) is not followed
    /// but returned, for the client to fetch from there itself; see [`HandOverRedirects`].
    /// A redirect the HTTP client follows anyway (same origin, https to http) is followed.
    pub fn download_blob(
        &self,
        repository: &str,
        digest: &Digest,
        extra_headers: HeaderMap,
    ) -> impl Future<Output = Result<BlobDownload, OciError>> + Send + 'static {
        let get = self.clone().with_extension(HandOverRedirects).blob_get(
            repository,
            digest,
            extra_headers,
        );
        async move {
            let (response, target, what) = get.await?;
            if !response.status().is_redirection() {
                return Ok(BlobDownload::Bytes(
                    check(&Method::GET, response, &what).await?,
                ));
            }
            let location = response
                .headers()
                .get(LOCATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|location| {
                    reqwest::Url::parse(&target.uri.to_string())
                        .ok()?
                        .join(location)
                        .ok()
                })
                .ok_or_else(|| {
                    OciError::InvalidResponse(format!(
                        "the registry redirected the download of {what} without a usable \
                         Location"
                    ))
                })?;
            Ok(BlobDownload::Elsewhere(location.into()))
        }
    }

    /// The blob's `GET` as the registry answers it (unchecked), where it was sent, and the
    /// blob's name for messages. Credentials and `Host` in `extra_headers` are dropped.
    fn blob_get(
        &self,
        repository: &str,
        digest: &Digest,
        mut extra_headers: HeaderMap,
    ) -> impl Future<Output = Result<(Response<reqwest::Body>, Target, String), OciError>> + Send + 'static
    {
        let client = self.clone();
        let repository = normalize_repository(repository);
        let digest = digest.clone();
        for name in [AUTHORIZATION, PROXY_AUTHORIZATION, HOST] {
            extra_headers.remove(name);
        }
        async move {
            let repository = repository?;
            let target = client
                .registry
                .target(&format!("/v2/{repository}/blobs/{digest}"))?;
            let response = client
                .send(
                    Method::GET,
                    &target,
                    extra_headers,
                    reqwest::Body::default(),
                )
                .await?;
            Ok((response, target, blob_name(&repository, &digest)))
        }
    }

    /// Starts an upload session (`POST /v2/<name>/blobs/uploads/`) and returns its location.
    pub(crate) fn open_upload(
        &self,
        repository: &str,
    ) -> impl Future<Output = Result<Target, OciError>> + Send + 'static {
        let session = self.open_upload_session(repository);
        async move { Ok(session.await?.0) }
    }

    /// [`open_upload`](Self::open_upload), with the smallest chunk the registry takes
    /// (`OCI-Chunk-Min-Bytes`, distribution-spec PR #391), when it says.
    pub(crate) fn open_upload_session(
        &self,
        repository: &str,
    ) -> impl Future<Output = Result<(Target, Option<u64>), OciError>> + Send + 'static {
        let client = self.clone();
        let repository = normalize_repository(repository);
        async move {
            let repository = repository?;
            let response = client
                .send_bodiless(Method::POST, &format!("/v2/{repository}/blobs/uploads/"))
                .await?;
            let what = format!("repository {repository}");
            let response = match check(&Method::POST, response, &what).await {
                Ok(response) => response,
                // A registry that creates repositories on push never answers 404 here; ECR
                // (NAME_UNKNOWN) and Harbor (project not found) do when nobody created it.
                Err(OciError::NotFound { what }) => {
                    return Err(OciError::RepositoryMissing { repository, what })
                }
                Err(error) => return Err(error),
            };
            let chunk_min = response
                .headers()
                .get("oci-chunk-min-bytes")
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.trim().parse::<u64>().ok());
            Ok((client.location_of(&response)?, chunk_min))
        }
    }

    /// The target named by a response's `Location` header.
    pub(crate) fn location_of(
        &self,
        response: &Response<reqwest::Body>,
    ) -> Result<Target, OciError> {
        let location = response
            .headers()
            .get(LOCATION)
            .ok_or_else(|| {
                OciError::InvalidResponse(format!(
                    "the registry answered {} without a Location header",
                    response.status()
                ))
            })?
            .to_str()
            .map_err(|_| OciError::InvalidResponse("the Location header is not text".into()))?;
        self.registry.resolve(location)
    }
}

pub(crate) fn blob_name(repository: &str, digest: &Digest) -> String {
    format!("blob {repository}@{digest}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::{alice, requests, respond, stub_client};
    use http::header::RANGE;
    use tower::BoxError;

    fn upload_registry(
        location: &'static str,
    ) -> impl Fn(&crate::test_util::Recorded) -> Result<Response<reqwest::Body>, BoxError>
           + Clone
           + Send
           + Sync
           + 'static {
        move |request| match request.method {
            Method::HEAD => respond(404, &[], ""),
            Method::POST => respond(202, &[("location", location)], ""),
            Method::PUT => respond(201, &[], ""),
            _ => respond(500, &[], "unexpected"),
        }
    }

    #[tokio::test]
    async fn push_blob_posts_then_puts_with_the_digest_appended() {
        let cases = [
            (
                "/v2/acme/x/blobs/uploads/u1",
                "https://registry.test/v2/acme/x/blobs/uploads/u1?digest=",
            ),
            (
                "https://registry.test/v2/acme/x/blobs/uploads/u1?_state=abc",
                "https://registry.test/v2/acme/x/blobs/uploads/u1?_state=abc&digest=",
            ),
        ];
        for (location, put_prefix) in cases {
            let (client, log) = stub_client(upload_registry(location));
            let digest = Digest::sha256_of(b"{}");
            client
                .push_blob("Acme/X", &digest, Bytes::from_static(b"{}"))
                .await
                .unwrap();
            let seen = requests(&log);
            let calls: Vec<_> = seen
                .iter()
                .map(|r| (r.method.clone(), r.uri.clone()))
                .collect();
            assert_eq!(
                calls,
                [
                    (
                        Method::HEAD,
                        format!("https://registry.test/v2/acme/x/blobs/{digest}")
                    ),
                    (
                        Method::POST,
                        "https://registry.test/v2/acme/x/blobs/uploads/".to_owned()
                    ),
                    (Method::PUT, format!("{put_prefix}{digest}")),
                ]
            );
            assert_eq!(seen[2].body, "{}");
            assert!(seen.iter().all(|r| r.credentials == Some(alice())));
        }
    }

    #[tokio::test]
    async fn an_upload_into_a_repository_nobody_created_says_to_create_it() {
        // ECR's answer when the repository was never created (regclient/regclient#869).
        let (client, _log) = stub_client(|_| {
            respond(
                404,
                &[],
                r#"{"errors":[{"code":"NAME_UNKNOWN","message":"The repository with name 'acme/x' does not exist in the registry with id '1'"}]}"#,
            )
        });
        let error = client.start_blob_upload("acme/x").await.unwrap_err();
        assert!(
            matches!(&error, OciError::RepositoryMissing { repository, .. } if repository == "acme/x"),
            "{error:?}"
        );
        assert_eq!(error.status_hint(), http::StatusCode::NOT_FOUND);
        let message = error.to_string();
        assert!(message.contains("create it first"), "{message}");
        assert!(
            message.contains("aws ecr create-repository --repository-name acme/x"),
            "{message}"
        );
        assert!(message.contains("NAME_UNKNOWN"), "{message}");
    }

    #[tokio::test]
    async fn push_blob_skips_a_blob_the_registry_has() {
        let (client, log) = stub_client(|_| respond(200, &[], ""));
        client
            .push_blob("a", &Digest::sha256_of(b"{}"), Bytes::from_static(b"{}"))
            .await
            .unwrap();
        let seen = requests(&log);
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].method, Method::HEAD);
    }

    #[tokio::test]
    async fn upload_without_location_is_an_invalid_response() {
        let (client, _) = stub_client(|request| match request.method {
            Method::HEAD => respond(404, &[], ""),
            _ => respond(202, &[], ""),
        });
        let error = client
            .push_blob("a", &Digest::sha256_of(b""), Bytes::new())
            .await
            .unwrap_err();
        assert!(matches!(error, OciError::InvalidResponse(_)), "{error:?}");
    }

    #[tokio::test]
    async fn blob_exists_is_false_on_404_and_an_error_on_401() {
        let (client, _) = stub_client(|_| respond(404, &[], ""));
        assert!(!client
            .blob_exists("a", &Digest::sha256_of(b""))
            .await
            .unwrap());
        let (client, _) = stub_client(|_| respond(401, &[], ""));
        let error = client
            .blob_exists("a", &Digest::sha256_of(b""))
            .await
            .unwrap_err();
        assert!(matches!(error, OciError::Unauthorized), "{error:?}");
    }

    #[tokio::test]
    async fn get_blob_passes_range_but_never_authorization() {
        let (client, log) =
            stub_client(|_| respond(206, &[("content-range", "bytes 0-1/5")], "he"));
        let mut headers = HeaderMap::new();
        headers.insert(RANGE, HeaderValue::from_static("bytes=0-1"));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Basic c2VjcmV0"));
        let digest = Digest::sha256_of(b"hello");
        let response = client
            .get_blob_with("Acme/X", &digest, headers)
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
        let [request] = requests(&log).try_into().unwrap();
        assert_eq!(
            request.uri,
            format!("https://registry.test/v2/acme/x/blobs/{digest}")
        );
        assert_eq!(request.headers[RANGE], "bytes=0-1");
        assert!(request.headers.get(AUTHORIZATION).is_none());
        assert_eq!(request.credentials, Some(alice()));
    }

    #[tokio::test]
    async fn get_blob_not_found() {
        let (client, _) = stub_client(|_| {
            respond(
                404,
                &[],
                r#"{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}"#,
            )
        });
        let digest = Digest::sha256_of(b"hello");
        match client.get_blob("a", &digest).await.unwrap_err() {
            OciError::NotFound { what } => {
                assert_eq!(what, format!("blob a@{digest} (BLOB_UNKNOWN)"))
            }
            other => panic!("expected NotFound, got {other:?}"),
        }
    }
}
