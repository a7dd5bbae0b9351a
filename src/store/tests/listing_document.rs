//! The listing document: kept by every write through the store, read by a cold listing in
//! two requests whatever the number of versions, and listed by the original PyOCI as a tag
//! without files.

use bytes::Bytes;
use pyoci_oci::{
    test_util::requests, Descriptor, Digest, ImageIndex, OCI_INDEX_MEDIA_TYPE,
    OCI_MANIFEST_MEDIA_TYPE,
};

use super::{
    config, file_entry, hello, index_of, lines, memory_registry::MemoryRegistry, store, version,
    REPO,
};
use crate::{
    config::Config,
    layout::{
        listing_document::{
            ListingDocument, Located, BLOB_ANNOTATION, INLINE_ANNOTATION, LEGACY_TAG, MEDIA_TYPE,
            TAG,
        },
        PACKAGE_MEDIA_TYPE,
    },
    profile::Profile,
    store::IndexEdit,
};

fn with_document() -> Config {
    Config {
        listing_document: true,
        ..config()
    }
}

#[tokio::test]
async fn a_write_records_every_version_in_a_new_document_written_only_if_still_absent() {
    let registry = MemoryRegistry::new();
    let older = index_of(&[file_entry(".tar.gz", b"0.9")]);
    registry.with_contents(|held| held.put_index(REPO, "0.9", &older));
    let (store, log) = store(with_document(), &registry);

    let edit = IndexEdit::AddFile(Box::new(file_entry(".tar.gz", b"1.0")));
    hello(&store)
        .edit_index(&version("1.0"), edit)
        .await
        .unwrap();

    let seen = requests(&log);
    let document_tag = format!("/v2/acme/hello/manifests/{TAG}");
    let after_the_index: Vec<String> = lines(&log).into_iter().skip(2).collect();
    assert_eq!(
        after_the_index[..2],
        [
            format!("GET {document_tag}"),
            "GET /v2/acme/hello/tags/list".to_owned()
        ],
        "no document yet: it is built from every version tag"
    );
    for tag in ["0.9", "1.0"] {
        let read = format!("GET /v2/acme/hello/manifests/{tag}");
        assert!(
            after_the_index.contains(&read),
            "{read} in {after_the_index:?}"
        );
    }
    let index_write = seen
        .iter()
        .find(|request| request.method == "PUT" && request.path() == document_tag)
        .expect("the document's index is written");
    assert_eq!(index_write.header("if-none-match"), Some("*"));
    let index: ImageIndex = serde_json::from_slice(&index_write.body).unwrap();
    assert_eq!(index.artifact_type.as_deref(), Some(PACKAGE_MEDIA_TYPE));
    assert!(
        index.manifests.is_empty(),
        "the original lists no files here"
    );
    let Located::Inline(document, _) = ListingDocument::locate(&index).unwrap() else {
        panic!("a small document is written inline: {index:?}")
    };
    registry.with_contents(|held| {
        for tag in ["0.9", "1.0"] {
            let (digest, _) = held.manifest(REPO, tag).unwrap();
            assert_eq!(document.versions[tag].digest.as_str(), digest, "{tag}");
            assert_eq!(
                Some(&document.versions[tag].index),
                held.index(REPO, tag).as_ref()
            );
        }
        assert!(held.manifest(REPO, TAG).is_some());
    });
}

#[tokio::test]
async fn a_cold_listing_reads_the_tag_list_and_the_document_index_only() {
    let registry = MemoryRegistry::new();
    let (writer, _) = store(with_document(), &registry);
    for (tag, bytes) in [("0.9", b"0.9"), ("1.0", b"1.0")] {
        let edit = IndexEdit::AddFile(Box::new(file_entry(".tar.gz", bytes)));
        hello(&writer)
            .edit_index(&version(tag), edit)
            .await
            .unwrap();
    }
    // Another process, its caches cold.
    let (reader, log) = store(with_document(), &registry);

    let read = reader.caches().snapshot();
    let releases = hello(&reader).releases(read).await.unwrap();

    let listed: Vec<String> = releases
        .iter()
        .map(|release| release.version.to_string())
        .collect();
    assert_eq!(listed, ["1.0", "0.9"]);
    assert!(releases.iter().all(|release| release.files.len() == 1));
    let mut seen = lines(&log);
    seen.sort();
    assert_eq!(
        seen,
        [
            format!("GET /v2/acme/hello/manifests/{TAG}"),
            "GET /v2/acme/hello/tags/list".to_owned(),
        ],
        "two requests at once, whatever the number of versions"
    );
}

#[tokio::test]
async fn a_document_that_disagrees_with_the_tags_is_not_used_after_the_check() {
    let registry = MemoryRegistry::new();
    let (writer, _) = store(with_document(), &registry);
    let edit = IndexEdit::AddFile(Box::new(file_entry(".tar.gz", b"1.0")));
    hello(&writer)
        .edit_index(&version("1.0"), edit)
        .await
        .unwrap();
    // A writer that does not keep the document changes the version behind it.
    let changed = index_of(&[
        file_entry(".tar.gz", b"1.0"),
        file_entry("py3-none-any.whl", b"w"),
    ]);
    registry.with_contents(|held| held.put_index(REPO, "1.0", &changed));
    let no_cache = Config {
        cache_ttl_secs: 0,
        ..with_document()
    };
    let (reader, log) = store(no_cache, &registry);

    let first = hello(&reader)
        .releases(reader.caches().snapshot())
        .await
        .unwrap();
    assert_eq!(
        first[0].files.len(),
        1,
        "the document's copy, until checked"
    );
    // The background check reads the version's tag, finds it changed and distrusts the copy.
    let repository = hello(&reader);
    let (document, _) = registry
        .with_contents(|held| held.manifest(REPO, TAG))
        .unwrap();
    let document = Digest::parse(&document).unwrap();
    for _ in 0..200 {
        if !reader
            .listing_trust
            .trusts(repository.cache_key(), &document)
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let tag_reads = || {
        lines(&log)
            .iter()
            .filter(|line| *line == "GET /v2/acme/hello/manifests/1.0")
            .count()
    };
    assert_eq!(tag_reads(), 1, "the check read the version's tag");
    assert!(!reader
        .listing_trust
        .trusts(repository.cache_key(), &document));

    let again = repository
        .releases(reader.caches().snapshot())
        .await
        .unwrap();
    assert_eq!(again[0].files.len(), 2, "read from the version's tag");
    assert_eq!(tag_reads(), 2);
}

/// The architectures the original PyOCI's `oci_spec::image::Arch` knows by name: an index
/// entry with one of them is an error in its listing, any other string is a file.
const NAMED_ARCHITECTURES: [&str; 24] = [
    "386",
    "amd64",
    "amd64p32",
    "arm",
    "armbe",
    "arm64",
    "arm64be",
    "loong64",
    "mips",
    "mipsle",
    "mips64",
    "mips64le",
    "mips64p32",
    "mips64p32le",
    "ppc",
    "ppc64",
    "ppc64le",
    "riscv",
    "riscv64",
    "s390",
    "s390x",
    "sparc",
    "sparc64",
    "wasm",
];

/// What the original PyOCI makes of one tag, read as its `package_info_for_ref` (in
/// `src/pyoci.rs`) reads it through `pull_manifest`: the tag must hold an image index (by
/// `Content-Type`, exactly), of artifact type `application/pyoci.package.v1`, and every
/// entry of its `manifests` must carry a platform whose architecture is no named one; each
/// entry is a file (`tag:architecture` here). Anything else is an error, which fails its
/// whole listing.
fn files_as_the_original(registry: &MemoryRegistry, tag: &str) -> Result<Vec<String>, String> {
    let (content_type, bytes) = registry
        .with_contents(|held| held.served_manifest(REPO, tag))
        .ok_or_else(|| format!("ImageManifest '{tag}' does not exist"))?;
    if content_type == OCI_MANIFEST_MEDIA_TYPE {
        return Err(format!("{tag}: Expected ImageIndex, got ImageManifest"));
    }
    if content_type != OCI_INDEX_MEDIA_TYPE {
        return Err(format!("{tag}: Unknown Content-Type {content_type}"));
    }
    // Its index type needs `schemaVersion` and `manifests`, and each entry a media type,
    // digest and size (it panics otherwise).
    let index: serde_json::Value = serde_json::from_slice(&bytes).map_err(|err| err.to_string())?;
    if !index["schemaVersion"].is_u64() {
        return Err(format!("{tag}: no schemaVersion"));
    }
    let entries = index["manifests"]
        .as_array()
        .ok_or_else(|| format!("{tag}: no manifests"))?;
    match index["artifactType"].as_str() {
        Some(PACKAGE_MEDIA_TYPE) => {}
        Some(other) => return Err(format!("{tag}: Unknown artifact type: {other}")),
        None => return Err(format!("{tag}: No artifact type set")),
    }
    entries
        .iter()
        .map(|entry| {
            let descriptor: Descriptor =
                serde_json::from_value(entry.clone()).map_err(|err| err.to_string())?;
            let architecture = descriptor
                .platform
                .map(|platform| platform.architecture)
                .ok_or_else(|| format!("{tag}: an entry without a platform (a panic there)"))?;
            if NAMED_ARCHITECTURES.contains(&architecture.as_str()) {
                return Err(format!("{tag}: Unsupported architecture '{architecture}'"));
            }
            Ok(format!("{tag}:{architecture}"))
        })
        .collect()
}

/// The original PyOCI's page of a project, as its `list_package_files` (in `src/pyoci.rs`)
/// builds it: every tag (its `list_tags` collects them into a sorted set), the last `n` in
/// that order (`0`: all), each read as [`files_as_the_original`]; one error fails it all.
fn page_as_the_original(registry: &MemoryRegistry, n: usize) -> Result<Vec<String>, String> {
    let mut tags = registry.with_contents(|held| held.tags(REPO));
    tags.sort();
    let n = if n == 0 { tags.len() } else { n };
    let mut files = Vec::new();
    for tag in tags.iter().rev().take(n) {
        files.extend(files_as_the_original(registry, tag)?);
    }
    files.sort();
    Ok(files)
}

/// The original PyOCI's JSON route (`list_package_json` in its `src/app.rs`, which Renovate
/// reads): every tag as a release, and the project URLs of the first file of the last tag
/// in sorted order, which must have one (it unwraps it: a panic, no answer, otherwise).
fn json_releases_as_the_original(registry: &MemoryRegistry) -> Result<Vec<String>, String> {
    let mut tags = registry.with_contents(|held| held.tags(REPO));
    tags.sort();
    if let Some(last) = tags.last() {
        if files_as_the_original(registry, last)?.is_empty() {
            return Err(format!("{last}: the last tag has no file (a panic there)"));
        }
    }
    Ok(tags)
}

#[tokio::test]
async fn the_original_pyoci_lists_every_file_and_no_error_with_the_document_present() {
    let registry = MemoryRegistry::new();
    let (writer, _) = store(with_document(), &registry);
    for (tag, architecture) in [
        ("0.9", ".tar.gz"),
        ("1.0", "py3-none-any.whl"),
        ("1.0", ".tar.gz"),
        ("10.0rc1", "py3-none-any.whl"),
    ] {
        let edit = IndexEdit::AddFile(Box::new(file_entry(architecture, tag.as_bytes())));
        hello(&writer)
            .edit_index(&version(tag), edit)
            .await
            .unwrap();
    }
    assert!(
        registry
            .with_contents(|held| held.manifest(REPO, TAG))
            .is_some(),
        "the document is there"
    );

    let expected = [
        "0.9:.tar.gz",
        "1.0:.tar.gz",
        "1.0:py3-none-any.whl",
        "10.0rc1:py3-none-any.whl",
    ];
    assert_eq!(page_as_the_original(&registry, 0).unwrap(), expected);
    // Its default bound (100 versions) and a bound below the tag count: the document's tag
    // sorts first, so it is the first left out.
    assert_eq!(page_as_the_original(&registry, 100).unwrap(), expected);
    assert_eq!(
        page_as_the_original(&registry, 3).unwrap(),
        expected,
        "three of four tags: the versions"
    );
    let releases = json_releases_as_the_original(&registry).unwrap();
    assert_eq!(releases.first().map(String::as_str), Some(TAG));
    assert_eq!(releases.last().map(String::as_str), Some("10.0rc1"));

    // The legacy form is what broke it: an image manifest under a tag it lists.
    let legacy = ListingDocument::manifest(
        Profile::Pyoci,
        Descriptor::new(MEDIA_TYPE, Digest::sha256_of(b"{}"), 2),
        "now",
    );
    registry.with_contents(|held| {
        let bytes = Bytes::from(serde_json::to_vec(&legacy).unwrap());
        held.put_manifest(REPO, LEGACY_TAG, OCI_MANIFEST_MEDIA_TYPE, bytes)
    });
    let error = page_as_the_original(&registry, 0).unwrap_err();
    assert!(error.contains("Expected ImageIndex"), "{error}");
}

#[tokio::test]
async fn a_legacy_document_is_read_until_the_next_write_replaces_and_deletes_it() {
    let registry = MemoryRegistry::new();
    let (writer, _) = store(with_document(), &registry);
    for tag in ["0.9", "1.0"] {
        let edit = IndexEdit::AddFile(Box::new(file_entry(".tar.gz", tag.as_bytes())));
        hello(&writer)
            .edit_index(&version(tag), edit)
            .await
            .unwrap();
    }
    // What an earlier PyOCI left: the same document as an image manifest's layer under the
    // legacy tag, and no document under the current one.
    registry.with_contents(|held| {
        let (digest, _) = held.manifest(REPO, TAG).unwrap();
        let index = held.index(REPO, TAG).unwrap();
        let Ok(Located::Inline(document, _)) = ListingDocument::locate(&index) else {
            panic!("inline: {index:?}")
        };
        let bytes = document.to_bytes().unwrap();
        let blob = Descriptor::new(
            MEDIA_TYPE,
            held.put_blob(REPO, bytes.clone()),
            bytes.len() as u64,
        );
        let manifest = ListingDocument::manifest(Profile::Pyoci, blob, "then");
        let manifest = Bytes::from(serde_json::to_vec(&manifest).unwrap());
        held.put_manifest(REPO, LEGACY_TAG, OCI_MANIFEST_MEDIA_TYPE, manifest);
        held.delete_tag(REPO, TAG, &digest);
    });
    let (reader, log) = store(with_document(), &registry);

    let releases = hello(&reader)
        .releases(reader.caches().snapshot())
        .await
        .unwrap();
    assert_eq!(releases.len(), 2);
    let seen = lines(&log);
    assert!(
        !seen
            .iter()
            .any(|line| line.ends_with("/manifests/1.0") || line.ends_with("/manifests/0.9")),
        "the versions came from the legacy document: {seen:?}"
    );
    assert!(seen.contains(&format!("GET /v2/acme/hello/manifests/{LEGACY_TAG}")));

    let edit = IndexEdit::AddFile(Box::new(file_entry("py3-none-any.whl", b"w")));
    hello(&writer)
        .edit_index(&version("1.0"), edit)
        .await
        .unwrap();
    registry.with_contents(|held| {
        assert!(
            held.manifest(REPO, LEGACY_TAG).is_none(),
            "the legacy document is deleted"
        );
        let index = held
            .index(REPO, TAG)
            .expect("the document in the current form");
        let Ok(Located::Inline(document, _)) = ListingDocument::locate(&index) else {
            panic!("inline: {index:?}")
        };
        assert_eq!(document.versions["1.0"].index.manifests.len(), 2);
    });
    assert!(page_as_the_original(&registry, 0).is_ok());
}

#[tokio::test]
async fn a_document_the_registry_refuses_inline_is_written_as_a_blob_kept_by_a_manifest() {
    // Room for a version's index, not for the document of two inline.
    let registry = MemoryRegistry::new().refusing_manifests_over(1200);
    let (writer, _) = store(with_document(), &registry);
    for tag in ["0.9", "1.0"] {
        let edit = IndexEdit::AddFile(Box::new(file_entry(".tar.gz", tag.as_bytes())));
        hello(&writer)
            .edit_index(&version(tag), edit)
            .await
            .unwrap();
    }
    let blob = registry.with_contents(|held| {
        let index = held.index(REPO, TAG).expect("the document's index");
        assert_eq!(
            index.artifact_type.as_deref(),
            Some(PACKAGE_MEDIA_TYPE),
            "a refusal for size teaches no conservative profile"
        );
        assert!(index.annotations.contains_key(BLOB_ANNOTATION));
        assert!(!index.annotations.contains_key(INLINE_ANNOTATION));
        let Ok(Located::Blob(blob)) = ListingDocument::locate(&index) else {
            panic!("the blob form: {index:?}")
        };
        assert!(held.blob(REPO, blob.digest.as_str()).is_some());
        blob
    });
    let (reader, log) = store(with_document(), &registry);
    let releases = hello(&reader)
        .releases(reader.caches().snapshot())
        .await
        .unwrap();
    assert_eq!(releases.len(), 2);
    let mut seen = lines(&log);
    seen[..2].sort();
    assert_eq!(
        seen,
        [
            format!("GET /v2/acme/hello/manifests/{TAG}"),
            "GET /v2/acme/hello/tags/list".to_owned(),
            format!("GET /v2/acme/hello/blobs/{}", blob.digest),
        ]
    );
    assert!(page_as_the_original(&registry, 0).is_ok());
}

#[tokio::test]
async fn a_project_whose_versions_all_sort_before_the_document_tag_keeps_none() {
    let registry = MemoryRegistry::new();
    let (writer, _) = store(with_document(), &registry);
    let edit = IndexEdit::AddFile(Box::new(file_entry(".tar.gz", b"0")));
    hello(&writer)
        .edit_index(&version("0"), edit)
        .await
        .unwrap();
    assert!(registry
        .with_contents(|held| held.manifest(REPO, TAG))
        .is_none());
    assert_eq!(
        json_releases_as_the_original(&registry).unwrap(),
        ["0"],
        "the original's JSON route still finds a file under the last tag"
    );
}
