//! Minimal but valid wheels and sdists built in memory, for tests that need files of a given
//! size or content quickly (no Python, no build backend). Each carries the core metadata
//! PyOCI requires (`.dist-info/METADATA`, `PKG-INFO`) naming its project and version, and
//! `payload` as one more file, so distinct payloads make distinct archives.

use std::io::{Cursor, Write};

/// A `py3-none-any` wheel of `name` `version` holding `payload` (stored, so its size is the
/// wheel's size give or take a few hundred bytes).
pub fn wheel_bytes(name: &str, version: &str, payload: &[u8]) -> Vec<u8> {
    let stem = format!("{}-{version}", name.replace(['-', '.'], "_"));
    let module = name.replace(['-', '.'], "_");
    let stored = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(payload.len() > u32::MAX as usize / 2);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let mut add = |path: String, bytes: &[u8]| {
        zip.start_file(path.as_str(), stored)
            .unwrap_or_else(|err| panic!("cannot add {path} to the test wheel: {err}"));
        zip.write_all(bytes)
            .unwrap_or_else(|err| panic!("cannot write {path} into the test wheel: {err}"));
    };
    add(format!("{module}/payload.bin"), payload);
    add(
        format!("{stem}.dist-info/METADATA"),
        core_metadata(name, version).as_bytes(),
    );
    add(
        format!("{stem}.dist-info/WHEEL"),
        b"Wheel-Version: 1.0\nGenerator: pyoci-test-support\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    );
    add(format!("{stem}.dist-info/RECORD"), b"");
    zip.finish()
        .unwrap_or_else(|err| panic!("cannot finish the test wheel: {err}"))
        .into_inner()
}

/// A zip archive of `entries` (path, bytes), stored: a wheel-shaped file without whatever
/// the entries leave out.
pub fn zip_bytes(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let stored =
        zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    for (path, bytes) in entries {
        zip.start_file(*path, stored)
            .unwrap_or_else(|err| panic!("cannot add {path} to the test zip: {err}"));
        zip.write_all(bytes)
            .unwrap_or_else(|err| panic!("cannot write {path} into the test zip: {err}"));
    }
    zip.finish()
        .unwrap_or_else(|err| panic!("cannot finish the test zip: {err}"))
        .into_inner()
}

/// An sdist (`.tar.gz`) of `name` `version` with `PKG-INFO` and `payload`.
pub fn sdist_bytes(name: &str, version: &str, payload: &[u8]) -> Vec<u8> {
    let top = format!("{}-{version}", name.replace(['-', '.'], "_"));
    let gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gzip);
    let mut add = |path: String, bytes: &[u8]| {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, &path, bytes)
            .unwrap_or_else(|err| panic!("cannot add {path} to the test sdist: {err}"));
    };
    add(
        format!("{top}/PKG-INFO"),
        core_metadata(name, version).as_bytes(),
    );
    add(format!("{top}/payload.bin"), payload);
    tar.into_inner()
        .and_then(|gzip| gzip.finish())
        .unwrap_or_else(|err| panic!("cannot finish the test sdist: {err}"))
}

fn core_metadata(name: &str, version: &str) -> String {
    format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nSummary: a test file\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archives_hold_their_metadata_and_payload() {
        let wheel = wheel_bytes("hello-probe", "1.0", b"payload");
        let mut archive = zip::ZipArchive::new(Cursor::new(wheel)).unwrap();
        let mut metadata = String::new();
        std::io::Read::read_to_string(
            &mut archive
                .by_name("hello_probe-1.0.dist-info/METADATA")
                .unwrap(),
            &mut metadata,
        )
        .unwrap();
        assert!(metadata.contains("Name: hello-probe\nVersion: 1.0\n"));

        let sdist = sdist_bytes("hello-probe", "1.0", b"payload");
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(sdist.as_slice()));
        let paths: Vec<String> = tar
            .entries()
            .unwrap()
            .map(|entry| entry.unwrap().path().unwrap().display().to_string())
            .collect();
        assert_eq!(
            paths,
            ["hello_probe-1.0/PKG-INFO", "hello_probe-1.0/payload.bin"]
        );
    }
}
