//! Publishing an uploaded file whose blob is committed: its config and manifest, then its
//! entry in the version's index; conservatively, once, for a registry refusing PyOCI's
//! media types.

use std::collections::BTreeMap;

use pyoci_metadata::CoreMetadata;
use pyoci_oci::{test_util::requests, test_util::stub_registry, Digest, ImageManifest};

use super::{
    config, files_in, hello, lines, memory_registry::MemoryRegistry, store, written_index, REPO,
};
use crate::{
    layout::{self, FileFacts},
    package::DistFilename,
    profile::Profile,
    store::NewFile,
};

const METADATA: &str = "Metadata-Version: 2.1\nName: hello\nVersion: 1.0\nSummary: hi\n";

fn wheel_facts(blob: &Digest) -> FileFacts {
    FileFacts {
        sha256: blob.hex().to_owned(),
        size: 1234,
        created: "2026-01-02T03:04:05.123456Z".into(),
        project_urls: None,
        requires_python: Some(">=3.9".into()),
        summary: Some("hi".into()),
    }
}

fn labels() -> BTreeMap<String, String> {
    BTreeMap::from([("team".to_owned(), "core".to_owned())])
}

#[tokio::test]
async fn a_wheel_is_published_as_metadata_config_then_manifest_then_index_entry() {
    let registry = MemoryRegistry::new();
    let (store, log) = store(config(), &registry);
    let filename = DistFilename::parse("hello-1.0-py3-none-any.whl").unwrap();
    let core = CoreMetadata::from_bytes(METADATA).unwrap();
    let blob = Digest::sha256_of(b"the wheel's bytes");

    let file = NewFile {
        filename: &filename,
        blob: blob.clone(),
        facts: wheel_facts(&blob),
        labels: labels(),
        core: &core,
    };
    let taken = hello(&store).publish(file).await.unwrap();

    assert_eq!(taken, None);
    let seen = requests(&log);
    let config_digest = format!("sha256:{}", core.sha256);
    let manifest_digest = Digest::sha256_of(&seen[3].body);
    assert_eq!(
        lines(&log),
        [
            format!("HEAD /v2/acme/hello/blobs/{config_digest}"),
            "POST /v2/acme/hello/blobs/uploads/".to_owned(),
            "PUT /v2/acme/hello/blobs/uploads/1".to_owned(),
            format!("PUT /v2/acme/hello/manifests/{manifest_digest}"),
            "GET /v2/acme/hello/manifests/1.0".to_owned(),
            "PUT /v2/acme/hello/manifests/1.0".to_owned(),
        ]
    );
    // The wheel's METADATA is its manifest's config (PEP 658), pushed under its digest.
    assert_eq!(seen[2].query("digest"), Some(config_digest.as_str()));
    assert_eq!(seen[2].body, core.bytes);
    let manifest: ImageManifest = serde_json::from_slice(&seen[3].body).unwrap();
    assert_eq!(manifest.config.media_type, layout::CORE_METADATA_MEDIA_TYPE);
    assert_eq!(manifest.config.digest.as_str(), config_digest);
    assert_eq!(manifest.layers.len(), 1);
    assert_eq!(manifest.layers[0].digest, blob);
    assert_eq!(manifest.layers[0].size, 1234);
    assert_eq!(
        manifest.artifact_type.as_deref(),
        Some(layout::PACKAGE_MEDIA_TYPE)
    );
    assert_eq!(manifest.annotations["team"], "core");
    // Then the version's index, created only if nobody created it meanwhile.
    assert_eq!(seen[5].header("if-none-match"), Some("*"));
    let index = written_index(&seen[5]);
    assert_eq!(files_in(&index), ["py3-none-any.whl"]);
    let entry = &index.manifests[0];
    assert_eq!(entry.digest, manifest_digest);
    let annotation = |key: &str| entry.annotations.get(key).map(String::as_str);
    assert_eq!(annotation(layout::SHA256_ANNOTATION), Some(blob.hex()));
    assert_eq!(annotation(layout::SIZE_ANNOTATION), Some("1234"));
    assert_eq!(
        annotation(layout::REQUIRES_PYTHON_ANNOTATION),
        Some(">=3.9")
    );
    assert_eq!(
        annotation(layout::CORE_METADATA_ANNOTATION),
        Some(core.sha256.as_str())
    );
    assert_eq!(
        annotation(layout::CREATED_ANNOTATION),
        Some("2026-01-02T03:04:05.123456Z")
    );
    assert!(registry
        .with_contents(|held| held.index(REPO, "1.0"))
        .is_some());
}

#[tokio::test]
async fn a_registry_refusing_pyoci_media_types_gets_standard_ones_from_then_on() {
    let registry = MemoryRegistry::new().refusing_artifact_types();
    let (store, log) = store(config(), &registry);
    let filename = DistFilename::parse("hello-1.0-py3-none-any.whl").unwrap();
    let core = CoreMetadata::from_bytes(METADATA).unwrap();
    let blob = Digest::sha256_of(b"the wheel's bytes");

    let file = NewFile {
        filename: &filename,
        blob: blob.clone(),
        facts: wheel_facts(&blob),
        labels: labels(),
        core: &core,
    };
    let taken = hello(&store).publish(file).await.unwrap();

    assert_eq!(taken, None);
    assert_eq!(
        store.rules.profile(&stub_registry()),
        Profile::Conservative,
        "learned for the next writes"
    );
    let seen = requests(&log);
    let manifest_puts: Vec<_> = seen
        .iter()
        .filter(|request| {
            request.method == http::Method::PUT && request.path().contains("/manifests/sha256:")
        })
        .collect();
    assert_eq!(
        manifest_puts.len(),
        2,
        "refused once, then written conservatively"
    );
    let refused: ImageManifest = serde_json::from_slice(&manifest_puts[0].body).unwrap();
    assert!(refused.artifact_type.is_some());
    let accepted: ImageManifest = serde_json::from_slice(&manifest_puts[1].body).unwrap();
    assert_eq!(accepted.artifact_type, None);
    assert_eq!(
        accepted.config.digest.as_str(),
        pyoci_oci::EMPTY_CONFIG_DIGEST,
        "no METADATA config where only standard types are taken"
    );
    let index_write = seen.last().unwrap();
    assert_eq!(index_write.path(), "/v2/acme/hello/manifests/1.0");
    let index = written_index(index_write);
    assert_eq!(index.artifact_type, None);
    let entry = &index.manifests[0];
    assert_eq!(entry.digest, Digest::sha256_of(&manifest_puts[1].body));
    assert!(!entry
        .annotations
        .contains_key(layout::CORE_METADATA_ANNOTATION));
}
