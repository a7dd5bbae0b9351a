//! The digests an upload declares (twine sends sha256, md5 and blake2_256 before the file)
//! are each checked against the bytes received, now that only declared ones are computed.

use std::path::Path;

use blake2::{digest::consts::U32, Blake2b, Digest};
use md5::Md5;
use pyoci_test_support::{
    sha256_hex, wheel_bytes, HttpClient, Multipart, Pyoci, Registry, RegistryAuth,
};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// twine's form: the fields, the three digests, then the file.
fn twine_form(version: &str, wheel: &[u8], md5: &str, blake2: &str) -> Multipart {
    twine_form_declaring(version, wheel, &sha256_hex(wheel), md5, blake2)
}

fn twine_form_declaring(
    version: &str,
    wheel: &[u8],
    sha256: &str,
    md5: &str,
    blake2: &str,
) -> Multipart {
    Multipart::new()
        .text(":action", "file_upload")
        .text("protocol_version", "1")
        .text("name", "digested")
        .text("version", version)
        .text("filetype", "bdist_wheel")
        .text("pyversion", "py3")
        .text("sha256_digest", sha256)
        .text("md5_digest", md5)
        .text("blake2_256_digest", blake2)
        .file(
            "content",
            &format!("digested-{version}-py3-none-any.whl"),
            "application/octet-stream",
            wheel,
        )
}

#[test]
fn every_declared_digest_is_checked() {
    let registry = Registry::start(RegistryAuth::None);
    let pyoci = Pyoci::start(Path::new(env!("CARGO_BIN_EXE_pyoci")), &[]);
    let http = HttpClient::new();
    let url = format!("{}/{}/ns/", pyoci.base_url(), registry.url_segment());
    let wheel = wheel_bytes("digested", "1.0.0", b"checked");
    let md5 = hex(&Md5::digest(&wheel));
    let blake2 = hex(&Blake2b::<U32>::digest(&wheel));
    let wrong = "0".repeat(32);
    let wrong_long = "0".repeat(64);

    let bad_md5 = http.post_multipart(&url, twine_form("1.0.0", &wheel, &wrong, &blake2), &[]);
    assert_eq!(bad_md5.status, 400, "{}", bad_md5.text());
    assert!(
        bad_md5.text().contains("md5_digest mismatch"),
        "{}",
        bad_md5.text()
    );

    let bad_blake2 = http.post_multipart(&url, twine_form("1.0.0", &wheel, &md5, &wrong_long), &[]);
    assert_eq!(bad_blake2.status, 400, "{}", bad_blake2.text());
    assert!(
        bad_blake2.text().contains("blake2_256_digest mismatch"),
        "{}",
        bad_blake2.text()
    );

    let good = http.post_multipart(&url, twine_form("1.0.0", &wheel, &md5, &blake2), &[]);
    assert_eq!(good.status, 200, "{}", good.text());
}

/// A declared sha256 is checked by the registry when the blob is committed. A file already
/// stored under the name is not committed again, so there PyOCI must hash what it received
/// itself: other bytes that merely declare the stored file's sha256 are a conflict, not "the
/// same content".
#[test]
fn other_bytes_declaring_the_stored_files_sha256_are_a_conflict() {
    let registry = Registry::start(RegistryAuth::None);
    let pyoci = Pyoci::start(Path::new(env!("CARGO_BIN_EXE_pyoci")), &[]);
    let http = HttpClient::new();
    let url = format!("{}/{}/ns/", pyoci.base_url(), registry.url_segment());
    let stored = wheel_bytes("digested", "2.0.0", b"stored");
    let sha256 = sha256_hex(&stored);
    let md5 = |bytes: &[u8]| hex(&Md5::digest(bytes));
    let blake2 = |bytes: &[u8]| hex(&Blake2b::<U32>::digest(bytes));

    let first = http.post_multipart(
        &url,
        twine_form("2.0.0", &stored, &md5(&stored), &blake2(&stored)),
        &[],
    );
    assert_eq!(first.status, 200, "{}", first.text());
    let again = http.post_multipart(
        &url,
        twine_form("2.0.0", &stored, &md5(&stored), &blake2(&stored)),
        &[],
    );
    assert_eq!(again.status, 200, "the same bytes again: {}", again.text());
    assert!(again
        .text()
        .contains("already exists with the same content"));

    let other = wheel_bytes("digested", "2.0.0", b"other");
    let lying = http.post_multipart(
        &url,
        twine_form_declaring("2.0.0", &other, &sha256, &md5(&other), &blake2(&other)),
        &[],
    );
    assert_ne!(
        lying.status,
        200,
        "other bytes were taken for the stored file: {}",
        lying.text()
    );
    assert!(
        lying.status == 400 || lying.status == 409,
        "{} {}",
        lying.status,
        lying.text()
    );
    let served = http.get(&format!("{url}digested/digested-2.0.0-py3-none-any.whl"));
    assert_eq!(served.status, 200);
    assert_eq!(served.body, stored, "the stored file is untouched");
}

/// Uploads in chunks (`PATCH` + `Content-Range`, for registries behind body-limiting proxies)
/// end with the same commit under the declared sha256, so the registry refuses other bytes
/// there too, and nothing becomes visible.
#[test]
fn a_wrong_sha256_is_refused_in_chunked_uploads_too() {
    let registry = Registry::start(RegistryAuth::None);
    let pyoci = Pyoci::start(
        Path::new(env!("CARGO_BIN_EXE_pyoci")),
        &[
            ("PYOCI_CHUNKED_UPLOADS", &registry.host_port()),
            ("PYOCI_UPLOAD_CHUNK_BYTES", "65536"),
        ],
    );
    let http = HttpClient::new();
    let url = format!("{}/{}/ns/", pyoci.base_url(), registry.url_segment());
    // Larger than a chunk, so the file goes up in several PATCHes.
    let wheel = wheel_bytes("digested", "3.0.0", &vec![7u8; 300_000]);
    let md5 = hex(&Md5::digest(&wheel));
    let blake2 = hex(&Blake2b::<U32>::digest(&wheel));

    let wrong = "0".repeat(64);
    let refused = http.post_multipart(
        &url,
        twine_form_declaring("3.0.0", &wheel, &wrong, &md5, &blake2),
        &[],
    );
    assert_eq!(refused.status, 400, "{}", refused.text());
    assert!(
        refused.text().contains("sha256_digest mismatch"),
        "{}",
        refused.text()
    );
    let page = http.get(&format!("{url}digested/"));
    assert!(
        page.status == 404 || !page.text().contains("digested-3.0.0"),
        "a refused file is listed: {} {}",
        page.status,
        page.text()
    );

    let good = http.post_multipart(&url, twine_form("3.0.0", &wheel, &md5, &blake2), &[]);
    assert_eq!(good.status, 200, "{}", good.text());
    let served = http.get(&format!("{url}digested/digested-3.0.0-py3-none-any.whl"));
    assert_eq!(served.body, wheel);
    // Both uploads really went in chunks: about five PATCHes each.
    let patches = registry
        .log()
        .matches("\"PATCH /v2/ns/digested/blobs/uploads/")
        .count();
    assert!(patches >= 8, "{patches} PATCHes\n{}", registry.log());
}
