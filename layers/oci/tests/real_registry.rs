//! The client against the real CNCF distribution registry (`/usr/bin/docker-registry`),
//! started on a free loopback port with its storage in a temporary directory.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream;
use http::header::RANGE;
use http::{HeaderMap, HeaderValue, StatusCode};
use http_body_util::BodyExt;
use pyoci_core::Credentials;
use pyoci_oci::{
    Descriptor, Digest, HttpClient, ImageIndex, ImageManifest, OciClient, OciError, Platform,
    Registry, Sha256Stream, EMPTY_CONFIG_BYTES, OCI_INDEX_MEDIA_TYPE,
};

const REGISTRY_BINARY: &str = "/usr/bin/docker-registry";
const PACKAGE_TYPE: &str = "application/pyoci.package.v1";

/// A registry process that is killed when dropped.
struct RunningRegistry {
    child: Child,
    address: String,
    _storage: tempfile::TempDir,
}

impl RunningRegistry {
    fn start() -> RunningRegistry {
        assert!(
            Path::new(REGISTRY_BINARY).exists(),
            "{REGISTRY_BINARY} is missing: run scripts/test, which installs the docker-registry \
             package (apt-get install docker-registry) before running the tests"
        );
        let storage = tempfile::tempdir().unwrap();
        let config = storage.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n  secret: pyoci-test-secret\n",
                storage.path().join("data").display()
            ),
        )
        .unwrap();
        let mut child = Command::new(REGISTRY_BINARY)
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let (sender, receiver) = mpsc::channel();
        // Reads the log until the listening address shows, then keeps draining it so the
        // registry never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some((_, rest)) = line.split_once("listening on ") {
                    let address: String = rest
                        .chars()
                        .take_while(|c| !c.is_whitespace() && *c != '"' && *c != ',')
                        .collect();
                    let _ = sender.send(address);
                }
            }
        });
        let address = match receiver.recv_timeout(Duration::from_secs(20)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                panic!("the registry did not report its listening address within 20 s");
            }
        };
        let registry = RunningRegistry {
            child,
            address,
            _storage: storage,
        };
        registry.wait_until_ready();
        registry
    }

    fn wait_until_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(mut stream) = std::net::TcpStream::connect(&self.address) {
                use std::io::{Read, Write};
                let request = format!(
                    "GET /v2/ HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
                    self.address
                );
                let mut answer = String::new();
                if stream.write_all(request.as_bytes()).is_ok()
                    && stream.read_to_string(&mut answer).is_ok()
                    && answer.starts_with("HTTP/1.1 200")
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("the registry at {} never answered GET /v2/", self.address);
    }

    fn client(&self) -> OciClient<HttpClient> {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        OciClient::new(
            HttpClient::new(http),
            Registry::new("http", &self.address).unwrap(),
            Credentials::Anonymous,
        )
    }
}

impl Drop for RunningRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `size` bytes of a repeating, non-trivial pattern.
fn generated_bytes(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i * 31 % 251) as u8).collect()
}

fn chunked(
    bytes: &[u8],
    chunk_size: usize,
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + 'static {
    let chunks: Vec<_> = bytes
        .chunks(chunk_size)
        .map(|chunk| Ok(Bytes::copy_from_slice(chunk)))
        .collect();
    stream::iter(chunks)
}

#[tokio::test]
async fn full_package_lifecycle_against_distribution() {
    let registry = RunningRegistry::start();
    let client = registry.client();
    let repository = "Acme/Team1/Hello_World";

    // A streamed upload of a few MB in many chunks.
    let file = generated_bytes(3 * 1024 * 1024 + 123);
    let (hashing, sha256) = Sha256Stream::new(chunked(&file, 64 * 1024));
    let upload = client.start_blob_upload(repository).await.unwrap();
    let upload = upload.send_stream(hashing).await.unwrap();
    let computed = sha256.result().unwrap();
    assert_eq!(computed.digest, Digest::sha256_of(&file));
    assert_eq!(computed.size, file.len() as u64);
    let blob = upload.commit(&computed.digest).await.unwrap();
    assert_eq!(blob.size, file.len() as u64);
    assert!(client.blob_exists(repository, &blob.digest).await.unwrap());

    // Empty config, file manifest by digest, index by tag.
    let config = Descriptor::empty_config();
    client
        .push_blob(
            repository,
            &config.digest,
            Bytes::from_static(EMPTY_CONFIG_BYTES),
        )
        .await
        .unwrap();
    // Pushing a blob that exists is a no-op, not an error.
    client
        .push_blob(
            repository,
            &config.digest,
            Bytes::from_static(EMPTY_CONFIG_BYTES),
        )
        .await
        .unwrap();
    let mut manifest = ImageManifest::new(config, vec![blob.descriptor(PACKAGE_TYPE)]);
    manifest.artifact_type = Some(PACKAGE_TYPE.into());
    manifest.annotations.insert(
        "org.opencontainers.image.created".into(),
        "2024-11-20T20:23:36Z".into(),
    );
    let mut entry = client
        .put_image_manifest(repository, &manifest)
        .await
        .unwrap();
    entry.platform = Some(Platform::new("py3-none-any.whl", "any"));
    entry
        .annotations
        .insert("com.pyoci.sha256_digest".into(), blob.digest.hex().into());
    let mut index = ImageIndex::new(vec![entry.clone()]);
    index.artifact_type = Some(PACKAGE_TYPE.into());
    index.extra.insert(
        "x-written-by-another-tool".into(),
        serde_json::json!({"kept": true}),
    );
    let index_digest = client.put_index(repository, "1.0.0", &index).await.unwrap();
    client.put_index(repository, "2.0.0", &index).await.unwrap();

    // Read back what was written.
    let (read_index, read_digest) = client.get_index(repository, "1.0.0").await.unwrap();
    assert_eq!(read_index, index);
    assert_eq!(read_digest, index_digest);
    let (read_manifest, manifest_digest) = client
        .get_image_manifest(repository, entry.digest.as_str())
        .await
        .unwrap();
    assert_eq!(read_manifest, manifest);
    assert_eq!(manifest_digest, entry.digest);
    let raw = client
        .get_manifest(repository, "1.0.0", &[OCI_INDEX_MEDIA_TYPE])
        .await
        .unwrap();
    assert_eq!(raw.media_type, OCI_INDEX_MEDIA_TYPE);
    assert_eq!(Digest::sha256_of(&raw.bytes), index_digest);

    let mut tags = client.list_tags(repository).await.unwrap();
    tags.sort();
    assert_eq!(tags, ["1.0.0", "2.0.0"]);

    let response = client.get_blob(repository, &blob.digest).await.unwrap();
    let downloaded = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(downloaded, file);

    let mut range = HeaderMap::new();
    range.insert(RANGE, HeaderValue::from_static("bytes=10-19"));
    let partial = client
        .get_blob_with(repository, &blob.digest, range)
        .await
        .unwrap();
    assert_eq!(partial.status(), StatusCode::PARTIAL_CONTENT);
    let partial = partial.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(partial, file[10..20]);

    // Deleting the index by digest removes both tags pointing to it.
    client
        .delete_manifest(repository, &index_digest)
        .await
        .unwrap();
    assert!(client.list_tags(repository).await.unwrap().is_empty());
    let gone = client.get_index(repository, "1.0.0").await.unwrap_err();
    assert!(matches!(gone, OciError::NotFound { .. }), "{gone:?}");

    let unknown = client.list_tags("acme/never_pushed").await.unwrap_err();
    assert!(matches!(unknown, OciError::NotFound { .. }), "{unknown:?}");
}

#[tokio::test]
async fn a_wrong_digest_stores_nothing() {
    let registry = RunningRegistry::start();
    let client = registry.client();
    let repository = "acme/wrong_digest";
    let bytes = generated_bytes(200 * 1024);

    let upload = client.start_blob_upload(repository).await.unwrap();
    let upload = upload
        .send_stream(chunked(&bytes, 16 * 1024))
        .await
        .unwrap();
    let claimed = Digest::sha256_of(b"not the uploaded bytes");
    let error = upload.commit(&claimed).await.unwrap_err();
    assert!(
        matches!(&error, OciError::Rejected { code: Some(code), .. } if code == "DIGEST_INVALID"),
        "{error:?}"
    );
    assert!(!client.blob_exists(repository, &claimed).await.unwrap());
    assert!(!client
        .blob_exists(repository, &Digest::sha256_of(&bytes))
        .await
        .unwrap());

    // A cancelled upload stores nothing either.
    let upload = client.start_blob_upload(repository).await.unwrap();
    let upload = upload
        .send_stream(chunked(&bytes, 16 * 1024))
        .await
        .unwrap();
    upload.cancel().await;
    assert!(!client
        .blob_exists(repository, &Digest::sha256_of(&bytes))
        .await
        .unwrap());
}

#[tokio::test]
async fn a_failing_body_stream_is_a_body_error() {
    let registry = RunningRegistry::start();
    let client = registry.client();
    let failing = stream::iter(vec![
        Ok(Bytes::from(generated_bytes(64 * 1024))),
        Err(std::io::Error::other("client disconnected")),
    ]);
    let upload = client.start_blob_upload("acme/broken").await.unwrap();
    let error = upload.send_stream(failing).await.unwrap_err();
    assert!(
        matches!(&error, OciError::Body(reason) if reason == "client disconnected"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_stopped_registry_is_unreachable() {
    let registry = RunningRegistry::start();
    let client = registry.client();
    drop(registry);
    let error = client.list_tags("acme/x").await.unwrap_err();
    assert!(matches!(error, OciError::Unreachable(_)), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("Connection refused"), "{message}");
    assert!(
        !message.contains("/v2/"),
        "URLs stay out of messages: {message}"
    );
    assert_eq!(error.status_hint(), StatusCode::BAD_GATEWAY);
}

/// A plain-http registry named without its scheme is spoken to in TLS; the error says which
/// URL segment names it as plain http (issue 19).
#[tokio::test]
async fn a_plain_http_registry_spoken_to_in_tls_names_the_url_to_use() {
    let registry = RunningRegistry::start();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let client = OciClient::new(
        HttpClient::new(http),
        Registry::new("https", &registry.address).unwrap(),
        Credentials::Anonymous,
    );
    let error = client.list_tags("acme/x").await.unwrap_err();
    let message = error.to_string();
    let segment = format!("http%3A%2F%2F{}", registry.address.replace(':', "%3A"));
    assert!(
        message.contains("looks like a plain-http registry"),
        "{message}"
    );
    assert!(message.contains(&segment), "{message}");
    assert_eq!(error.status_hint(), StatusCode::BAD_GATEWAY);
}
