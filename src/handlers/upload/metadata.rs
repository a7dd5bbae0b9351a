//! What the upload form says about the file, checked against the file itself.

use pyoci_upload::Form;

use super::digests::FileDigests;
use crate::{
    error::Error,
    package::{DistFilename, DistKind, PackageVersion, ProjectName},
};

/// The form's `:action`, `name`, `version` and `filetype`, where sent, must describe the file.
pub fn check_form_agrees(form: &Form, file: &DistFilename) -> Result<(), Error> {
    if let Some(action) = form.get(":action") {
        if action != "file_upload" {
            return Err(Error::BadRequest(format!(
                "unsupported :action `{action}`: PyOCI only accepts `file_upload`"
            )));
        }
    }
    if let Some(name) = form.get("name") {
        if ProjectName::parse(name)? != *file.name() {
            return Err(Error::BadRequest(format!(
                "the form's name `{name}` does not match the file `{file}`"
            )));
        }
    }
    if let Some(version) = form.get("version") {
        if PackageVersion::parse(version)? != *file.version() {
            return Err(Error::BadRequest(format!(
                "the form's version `{version}` does not match the file `{file}`"
            )));
        }
    }
    let expected_filetype = match file.kind() {
        DistKind::Wheel => "bdist_wheel",
        DistKind::Sdist => "sdist",
    };
    if let Some(filetype) = form.get("filetype") {
        if filetype != expected_filetype {
            return Err(Error::BadRequest(format!(
                "the form's filetype `{filetype}` does not match the file `{file}`, \
                 which is a {expected_filetype}"
            )));
        }
    }
    Ok(())
}

/// Every digest the client declared must match the bytes received. A digest declared only
/// after the file, when others were declared before it, was not computed (see
/// `WantedDigests`) and cannot be checked. sha256 always is: computed here, or, declared
/// before the file, checked by the registry as the blob is committed.
pub fn check_declared_digests(form: &Form, received: &FileDigests) -> Result<(), Error> {
    for (field, actual) in [
        ("sha256_digest", Some(&received.sha256)),
        ("blake2_256_digest", received.blake2_256.as_ref()),
        ("md5_digest", received.md5.as_ref()),
    ] {
        let declared = form.get(field).filter(|d| !d.is_empty());
        let (Some(declared), Some(actual)) = (declared, actual) else {
            continue;
        };
        if !declared.eq_ignore_ascii_case(actual) {
            return Err(Error::BadRequest(format!(
                "{field} mismatch: the form declares {declared} but the file received \
                 hashes to {actual}; the upload was corrupted or the form is wrong, \
                 nothing was stored"
            )));
        }
    }
    Ok(())
}
