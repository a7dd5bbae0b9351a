//! The write window: a version's index read past every cache, merged, written only if still
//! as read, read again after a 412, and checked again after the settle delay.

use pyoci_oci::{test_util::requests, OCI_INDEX_MEDIA_TYPE};
use pyoci_token_exchange::AuthorizeForWrite;

use super::{
    config, file_entry, files_in, hello, index_of, lines, memory_registry::MemoryRegistry, store,
    version, written_index, REPO,
};
use crate::{
    config::Config,
    layout,
    store::{EditOutcome, IndexEdit},
};

const INDEX: &str = "/v2/acme/hello/manifests/1.0";

#[tokio::test]
async fn an_added_file_is_merged_into_the_index_read_and_written_only_if_unchanged() {
    let registry = MemoryRegistry::new();
    let sdist = file_entry(".tar.gz", b"sdist");
    let read = registry.with_contents(|held| held.put_index(REPO, "1.0", &index_of(&[sdist])));
    let (store, log) = store(config(), &registry);

    let wheel = file_entry("py3-none-any.whl", b"wheel");
    let edit = IndexEdit::AddFile(Box::new(wheel));
    let outcome = hello(&store).edit_index(&version("1.0"), edit).await;

    assert!(matches!(outcome, Ok(EditOutcome::Added)));
    assert_eq!(
        lines(&log),
        [format!("GET {INDEX}"), format!("PUT {INDEX}")]
    );
    let seen = requests(&log);
    assert_eq!(
        seen[0].header("cache-control"),
        Some("no-cache"),
        "a read a write depends on bypasses every cache"
    );
    let write = &seen[1];
    assert_eq!(
        write.header("if-match"),
        Some(format!("\"{read}\"").as_str())
    );
    assert_eq!(write.header("content-type"), Some(OCI_INDEX_MEDIA_TYPE));
    assert!(
        write.extensions.get::<AuthorizeForWrite>().is_some(),
        "the write's token is asked for with push scope"
    );
    let written = written_index(write);
    assert_eq!(files_in(&written), [".tar.gz", "py3-none-any.whl"]);
    let held = registry.with_contents(|held| held.index(REPO, "1.0"));
    assert_eq!(held, Some(written));
}

#[tokio::test]
async fn a_new_version_is_written_only_if_its_tag_is_still_absent() {
    let registry = MemoryRegistry::new();
    let (store, log) = store(config(), &registry);

    let edit = IndexEdit::AddFile(Box::new(file_entry(".tar.gz", b"sdist")));
    let outcome = hello(&store).edit_index(&version("1.0"), edit).await;

    assert!(matches!(outcome, Ok(EditOutcome::Added)));
    assert_eq!(
        lines(&log),
        [format!("GET {INDEX}"), format!("PUT {INDEX}")]
    );
    let write = &requests(&log)[1];
    assert_eq!(write.header("if-none-match"), Some("*"));
    assert_eq!(write.header("if-match"), None);
    let written = written_index(write);
    assert_eq!(files_in(&written), [".tar.gz"]);
    assert_eq!(
        written.artifact_type.as_deref(),
        Some(layout::PACKAGE_MEDIA_TYPE)
    );
}

#[tokio::test]
async fn a_write_refused_with_412_is_read_again_and_merged_with_the_concurrent_change() {
    let registry = MemoryRegistry::new().honouring_conditions();
    let sdist = file_entry(".tar.gz", b"sdist");
    registry
        .with_contents(|held| held.put_index(REPO, "1.0", &index_of(std::slice::from_ref(&sdist))));
    // Another writer adds its wheel between our read and our write.
    let theirs = file_entry("cp312-cp312-manylinux_2_17_x86_64.whl", b"theirs");
    let concurrent = index_of(&[sdist, theirs]);
    let concurrent_for_hook = concurrent.clone();
    registry.before_next_write("1.0", move |held| {
        held.put_index(REPO, "1.0", &concurrent_for_hook);
    });
    let (store, log) = store(config(), &registry);

    let ours = file_entry("py3-none-any.whl", b"ours");
    let edit = IndexEdit::AddFile(Box::new(ours));
    let outcome = hello(&store).edit_index(&version("1.0"), edit).await;

    assert!(matches!(outcome, Ok(EditOutcome::Added)));
    assert_eq!(
        lines(&log),
        [
            format!("GET {INDEX}"),
            format!("PUT {INDEX}"),
            format!("GET {INDEX}"),
            format!("PUT {INDEX}")
        ]
    );
    let seen = requests(&log);
    let concurrent_digest = pyoci_oci::Digest::sha256_of(&serde_json::to_vec(&concurrent).unwrap());
    assert_eq!(
        seen[3].header("if-match"),
        Some(format!("\"{concurrent_digest}\"").as_str()),
        "the second write is conditional on the index read again"
    );
    let held = registry
        .with_contents(|held| held.index(REPO, "1.0"))
        .unwrap();
    assert_eq!(
        files_in(&held),
        [
            ".tar.gz",
            "cp312-cp312-manylinux_2_17_x86_64.whl",
            "py3-none-any.whl"
        ],
        "both changes are kept"
    );
}

#[tokio::test]
async fn a_change_another_replica_dropped_is_applied_again_after_the_settle_delay() {
    // A registry that ignores conditions: only the settle re-check can see the loss.
    let registry = MemoryRegistry::new();
    let before = index_of(&[file_entry(".tar.gz", b"sdist")]);
    registry.with_contents(|held| held.put_index(REPO, "1.0", &before));
    // Another replica read the index before our write and writes it back after it.
    registry.after_next_write("1.0", move |held| {
        held.put_index(REPO, "1.0", &before);
    });
    let settle = Config {
        write_settle_ms: 200,
        ..config()
    };
    let (store, log) = store(settle, &registry);

    let edit = IndexEdit::AddFile(Box::new(file_entry("py3-none-any.whl", b"ours")));
    let outcome = hello(&store).edit_index(&version("1.0"), edit).await;

    assert!(matches!(outcome, Ok(EditOutcome::Added)));
    let (read, write) = (format!("GET {INDEX}"), format!("PUT {INDEX}"));
    assert_eq!(
        lines(&log),
        [&*read, &write, &read, &read, &write, &read],
        "read, write, re-check (lost), read, write again, re-check (in place)"
    );
    let held = registry
        .with_contents(|held| held.index(REPO, "1.0"))
        .unwrap();
    assert_eq!(files_in(&held), [".tar.gz", "py3-none-any.whl"]);
}

#[tokio::test]
async fn a_file_name_taken_by_other_bytes_is_reported_and_nothing_is_written() {
    let registry = MemoryRegistry::new();
    let stored = file_entry(".tar.gz", b"first upload");
    registry.with_contents(|held| {
        held.put_index(REPO, "1.0", &index_of(std::slice::from_ref(&stored)))
    });
    let (store, log) = store(config(), &registry);

    let other = file_entry(".tar.gz", b"other bytes");
    let mut other = other;
    other.digest = pyoci_oci::Digest::sha256_of(b"another manifest");
    let outcome = hello(&store)
        .edit_index(&version("1.0"), IndexEdit::AddFile(Box::new(other)))
        .await;

    let Ok(EditOutcome::NameTaken { stored_sha256 }) = outcome else {
        panic!("expected the name to be taken");
    };
    assert_eq!(stored_sha256, layout::stored_sha256(&stored));
    assert_eq!(lines(&log), [format!("GET {INDEX}")]);
}

#[tokio::test]
async fn removing_the_last_file_deletes_the_index_it_read_by_digest() {
    let registry = MemoryRegistry::new();
    let sdist = file_entry(".tar.gz", b"sdist");
    let read = registry.with_contents(|held| held.put_index(REPO, "1.0", &index_of(&[sdist])));
    let (store, log) = store(config(), &registry);

    let edit = IndexEdit::RemoveFile {
        architecture: ".tar.gz".into(),
    };
    let outcome = hello(&store).edit_index(&version("1.0"), edit).await;

    assert!(matches!(outcome, Ok(EditOutcome::Removed(_))));
    assert_eq!(
        lines(&log),
        [
            format!("GET {INDEX}"),
            format!("DELETE /v2/acme/hello/manifests/{read}")
        ]
    );
    assert!(registry.with_contents(|held| held.tags(REPO)).is_empty());
}
