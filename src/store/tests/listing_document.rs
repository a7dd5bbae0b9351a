//! The listing document: kept by every write through the store, and read by a cold listing
//! in three requests whatever the number of versions.

use pyoci_oci::{test_util::requests, Digest, ImageManifest};

use super::{
    config, file_entry, hello, index_of, lines, memory_registry::MemoryRegistry, store, version,
    REPO,
};
use crate::{
    config::Config,
    layout::listing_document::{ListingDocument, MEDIA_TYPE, TAG},
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
    let manifest_write = seen.last().unwrap();
    assert_eq!(manifest_write.path(), document_tag);
    assert_eq!(manifest_write.header("if-none-match"), Some("*"));
    let manifest: ImageManifest = serde_json::from_slice(&manifest_write.body).unwrap();
    assert_eq!(manifest.artifact_type.as_deref(), Some(MEDIA_TYPE));
    let blob = ListingDocument::blob_of(&manifest).unwrap();
    let pushed = seen
        .iter()
        .find(|request| request.query("digest") == Some(blob.digest.as_str()))
        .expect("the document's blob is pushed before its manifest");
    let document = ListingDocument::parse(&pushed.body).unwrap();
    assert_eq!(document.versions.keys().collect::<Vec<_>>(), ["0.9", "1.0"]);
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
async fn a_cold_listing_reads_the_tag_list_the_document_and_its_blob_only() {
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
    let document = registry
        .with_contents(|held| held.manifest(REPO, TAG))
        .unwrap()
        .1;
    let manifest: ImageManifest = serde_json::from_slice(&document).unwrap();
    let blob = &ListingDocument::blob_of(&manifest).unwrap().digest;
    let mut seen = lines(&log);
    seen[..2].sort();
    assert_eq!(
        seen,
        [
            format!("GET /v2/acme/hello/manifests/{TAG}"),
            "GET /v2/acme/hello/tags/list".to_owned(),
            format!("GET /v2/acme/hello/blobs/{blob}"),
        ],
        "three requests, whatever the number of versions"
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
