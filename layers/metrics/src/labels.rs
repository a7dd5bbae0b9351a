//! Label values that come from outside (a registry's status, a method) mapped onto fixed
//! sets: each distinct value is a time series held until the process ends, so a registry
//! answering with every status from 200 to 999 must not be able to make hundreds of them.

use http::Method;

/// The label for `status`. The statuses PyOCI acts on when a registry answers with them
/// (success, redirects it follows, the refusals it tells apart, the faults it retries) or
/// answers its own clients with keep their number; any other is counted by its class
/// (`other_2xx` ... `other_5xx`), and 1xx (never a final answer) or anything outside
/// 100-599 is `invalid`.
pub(crate) fn status_label(status: u16) -> &'static str {
    match status {
        200 => "200",
        201 => "201",
        202 => "202",
        204 => "204",
        206 => "206",
        301 => "301",
        302 => "302",
        303 => "303",
        304 => "304",
        307 => "307",
        308 => "308",
        400 => "400",
        401 => "401",
        403 => "403",
        404 => "404",
        405 => "405",
        406 => "406",
        408 => "408",
        409 => "409",
        412 => "412",
        413 => "413",
        416 => "416",
        429 => "429",
        500 => "500",
        501 => "501",
        502 => "502",
        503 => "503",
        504 => "504",
        _ => match status / 100 {
            2 => "other_2xx",
            3 => "other_3xx",
            4 => "other_4xx",
            5 => "other_5xx",
            _ => "invalid",
        },
    }
}

/// The label for a method: the standard ones by name, any extension method as `other`.
pub(crate) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// The statuses that keep a label of their own.
    const KEPT_STATUSES: [u16; 28] = [
        200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 406, 408,
        409, 412, 413, 416, 429, 500, 501, 502, 503, 504,
    ];
    const OTHER_STATUS_LABELS: [&str; 5] = [
        "other_2xx",
        "other_3xx",
        "other_4xx",
        "other_5xx",
        "invalid",
    ];

    #[test]
    fn any_status_maps_into_the_fixed_set() {
        let allowed: BTreeSet<String> = KEPT_STATUSES
            .iter()
            .map(u16::to_string)
            .chain(OTHER_STATUS_LABELS.iter().map(|label| label.to_string()))
            .collect();
        let seen: BTreeSet<&str> = (0..=u16::MAX).map(status_label).collect();
        assert_eq!(
            seen,
            allowed.iter().map(String::as_str).collect(),
            "the labels are exactly the fixed set"
        );
        for status in KEPT_STATUSES {
            assert_eq!(status_label(status), status.to_string());
        }
        for (status, label) in [
            (100, "invalid"),
            (101, "invalid"),
            (199, "invalid"),
            (203, "other_2xx"),
            (299, "other_2xx"),
            (305, "other_3xx"),
            (418, "other_4xx"),
            (499, "other_4xx"),
            (599, "other_5xx"),
            (600, "invalid"),
            (999, "invalid"),
            (0, "invalid"),
        ] {
            assert_eq!(status_label(status), label, "{status}");
        }
    }

    #[test]
    fn extension_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::DELETE), "DELETE");
        for name in ["PURGE", "get", "X-ANYTHING"] {
            let method = Method::from_bytes(name.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "other", "{name}");
        }
    }
}
