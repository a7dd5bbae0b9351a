//! Reading the multipart boundary from the request's `Content-Type`.

use http::HeaderValue;

use crate::UploadError;

/// How much of a rejected `Content-Type` is echoed back in the error.
const ECHO_LIMIT: usize = 100;

/// The boundary of a `multipart/form-data` `Content-Type` header value.
///
/// Fails with [`UploadError::ContentType`] when the header is missing, is another media type,
/// or has no (or an empty) `boundary` parameter.
pub fn multipart_boundary(content_type: Option<&HeaderValue>) -> Result<String, UploadError> {
    let problem = |problem: String| UploadError::ContentType { problem };
    let value =
        content_type.ok_or_else(|| problem("the request has no Content-Type header".to_owned()))?;
    let value = value
        .to_str()
        .map_err(|_| problem("the Content-Type header is not ASCII text".to_owned()))?;
    match multer::parse_boundary(value) {
        Ok(boundary) if boundary.is_empty() => {
            Err(problem("the Content-Type has an empty boundary".to_owned()))
        }
        Ok(boundary) => Ok(boundary),
        Err(multer::Error::NoBoundary) => Err(problem(
            "the Content-Type `multipart/form-data` has no boundary parameter".to_owned(),
        )),
        Err(_) => {
            let echoed: String = value.chars().take(ECHO_LIMIT).collect();
            Err(problem(format!(
                "the Content-Type `{echoed}` is not multipart/form-data"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boundary_of(value: &str) -> Result<String, String> {
        multipart_boundary(Some(&HeaderValue::from_str(value).unwrap())).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_the_boundary_as_clients_send_it() {
        assert_eq!(
            boundary_of("multipart/form-data; boundary=a1b2c3").unwrap(),
            "a1b2c3"
        );
        assert_eq!(
            boundary_of("Multipart/Form-Data; boundary=\"quoted boundary\"").unwrap(),
            "quoted boundary"
        );
    }

    #[test]
    fn missing_header_is_explained() {
        let error = multipart_boundary(None).unwrap_err().to_string();
        assert!(
            error.starts_with("the request has no Content-Type header"),
            "{error}"
        );
        assert!(
            error.contains("send the upload as `multipart/form-data`"),
            "{error}"
        );
    }

    #[test]
    fn other_media_types_are_named_in_the_error() {
        let error = boundary_of("application/json").unwrap_err();
        assert!(
            error.contains("`application/json` is not multipart/form-data"),
            "{error}"
        );
        assert!(boundary_of("not a media type").is_err());
    }

    #[test]
    fn missing_or_empty_boundary_is_rejected() {
        assert!(boundary_of("multipart/form-data")
            .unwrap_err()
            .contains("no boundary"));
        assert!(boundary_of("multipart/form-data; boundary=\"\"").is_err());
    }

    #[test]
    fn non_ascii_header_is_rejected() {
        let value = HeaderValue::from_bytes(b"multipart/form-data; boundary=\xff").unwrap();
        assert!(multipart_boundary(Some(&value)).is_err());
    }
}
