//! Legacy-upload forms (what twine sends), for direct POSTs with chosen fields.

use std::{fs, path::Path};

use crate::{sha256_hex, Multipart};

/// The upload form twine would send for a built distribution, with its true sha256.
pub fn upload_form(dist: &Path, name: &str, version: &str) -> Multipart {
    let bytes = read(dist);
    upload_form_with_sha256(dist, name, version, &sha256_hex(&bytes))
}

/// The upload form for a distribution with `sha256_digest` set to `sha256_hex` (which may
/// be wrong on purpose).
pub fn upload_form_with_sha256(
    dist: &Path,
    name: &str,
    version: &str,
    sha256_hex: &str,
) -> Multipart {
    let bytes = read(dist);
    let filename = dist
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| panic!("{} has no file name", dist.display()));
    let (filetype, pyversion) = if filename.ends_with(".whl") {
        ("bdist_wheel", "py3")
    } else {
        ("sdist", "source")
    };
    Multipart::new()
        .text(":action", "file_upload")
        .text("protocol_version", "1")
        .text("metadata_version", "2.1")
        .text("name", name)
        .text("version", version)
        .text("filetype", filetype)
        .text("pyversion", pyversion)
        .text("sha256_digest", sha256_hex)
        .file("content", &filename, "application/octet-stream", &bytes)
}

/// The upload form for a distribution held in memory as `filename` (a wheel or an sdist,
/// by its name), with its true sha256: the fields every uploader sends, and the file.
pub fn content_form(name: &str, version: &str, filename: &str, content: &[u8]) -> Multipart {
    let filetype = if filename.ends_with(".whl") {
        "bdist_wheel"
    } else {
        "sdist"
    };
    Multipart::new()
        .text(":action", "file_upload")
        .text("protocol_version", "1")
        .text("name", name)
        .text("version", version)
        .text("filetype", filetype)
        .text("sha256_digest", &sha256_hex(content))
        .file("content", filename, "application/octet-stream", content)
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_carry_the_fields_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let wheel = dir.path().join("demo-1.0-py3-none-any.whl");
        fs::write(&wheel, b"wheel bytes").unwrap();
        let body = String::from_utf8(upload_form(&wheel, "demo", "1.0").into_body()).unwrap();
        assert!(body.contains("name=\":action\"\r\n\r\nfile_upload\r\n"));
        assert!(body.contains("name=\"filetype\"\r\n\r\nbdist_wheel\r\n"));
        assert!(body.contains(&format!(
            "name=\"sha256_digest\"\r\n\r\n{}\r\n",
            sha256_hex(b"wheel bytes")
        )));
        assert!(body.contains(
            "filename=\"demo-1.0-py3-none-any.whl\"\r\nContent-Type: application/octet-stream\r\n\r\nwheel bytes\r\n"
        ));

        let sdist = dir.path().join("demo-1.0.tar.gz");
        fs::write(&sdist, b"sdist").unwrap();
        let body =
            String::from_utf8(upload_form_with_sha256(&sdist, "demo", "1.0", "00").into_body())
                .unwrap();
        assert!(body.contains("name=\"filetype\"\r\n\r\nsdist\r\n"));
        assert!(body.contains("name=\"sha256_digest\"\r\n\r\n00\r\n"));

        let body = String::from_utf8(
            content_form("demo", "1.0", "demo-1.0.tar.gz", b"in memory").into_body(),
        )
        .unwrap();
        assert!(body.contains("name=\"filetype\"\r\n\r\nsdist\r\n"));
        assert!(body.contains(&sha256_hex(b"in memory")));
        assert!(body.contains("filename=\"demo-1.0.tar.gz\""));
    }
}
