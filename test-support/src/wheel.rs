//! A minimal valid wheel built in memory, for tests that upload many distinct files and
//! need neither Python nor a build step.

use std::io::{Cursor, Write};

use zip::{write::SimpleFileOptions, CompressionMethod, ZipWriter};

/// A wheel of project `name` at `version` whose `.dist-info` holds METADATA, WHEEL and
/// RECORD as a wheel must, plus one module file holding `payload` (so each wheel can have
/// distinct bytes and any size). Entries are stored, not compressed.
pub fn minimal_wheel(name: &str, version: &str, payload: &[u8]) -> Vec<u8> {
    let module = name.replace(['-', '.'], "_").to_ascii_lowercase();
    let dist_info = format!("{module}-{version}.dist-info");
    let metadata = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n");
    let wheel = "Wheel-Version: 1.0\nGenerator: pyoci-test-support\nRoot-Is-Purelib: true\nTag: py3-none-any\n";
    let record = format!(
        "{module}/data.txt,,\n{dist_info}/METADATA,,\n{dist_info}/WHEEL,,\n{dist_info}/RECORD,,\n"
    );
    let entries: [(String, &[u8]); 4] = [
        (format!("{module}/data.txt"), payload),
        (format!("{dist_info}/METADATA"), metadata.as_bytes()),
        (format!("{dist_info}/WHEEL"), wheel.as_bytes()),
        (format!("{dist_info}/RECORD"), record.as_bytes()),
    ];
    let mut writer = ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(CompressionMethod::Stored);
    for (path, data) in entries {
        writer
            .start_file(path.as_str(), options)
            .unwrap_or_else(|err| panic!("cannot add {path} to the wheel: {err}"));
        writer
            .write_all(data)
            .unwrap_or_else(|err| panic!("cannot write {path} into the wheel: {err}"));
    }
    writer
        .finish()
        .unwrap_or_else(|err| panic!("cannot finish the wheel: {err}"))
        .into_inner()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wheel_holds_its_metadata() {
        let bytes = minimal_wheel("demo-pkg", "1.0", b"payload");
        let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut metadata = String::new();
        std::io::Read::read_to_string(
            &mut archive.by_name("demo_pkg-1.0.dist-info/METADATA").unwrap(),
            &mut metadata,
        )
        .unwrap();
        assert!(
            metadata.contains("Name: demo-pkg\nVersion: 1.0\n"),
            "{metadata}"
        );
        assert_eq!(archive.len(), 4);
    }
}
