//! The requests a PyOCI server answered, read back from its log.
//!
//! With `RUST_LOG` including `tower_http=debug`, tower-http's `TraceLayer` logs one
//! `finished processing request ... status=NNN` line per request, inside the
//! `request{method=GET uri=/... version=HTTP/1.1}` span. Counting those lines tells a test how
//! many requests a client sent, and for what.

/// The `RUST_LOG` value that makes [`answered_requests`] see every request.
pub const REQUEST_LOG_FILTER: &str = "tower_http=debug,pyoci=debug,info";

const FINISHED: &str = "finished processing request";

/// One request as the trace log shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedRequest {
    /// `GET`, `HEAD`, `POST`...
    pub method: String,
    /// The path and query, still percent-encoded.
    pub uri: String,
    /// The response status.
    pub status: u16,
}

impl LoggedRequest {
    /// The last path segment (a file name, a project's empty segment...).
    pub fn last_segment(&self) -> &str {
        let path = self.uri.split('?').next().unwrap_or_default();
        path.rsplit('/').next().unwrap_or_default()
    }
}

/// Every answered request in `log`, in the order the answers were logged.
pub fn answered_requests(log: &str) -> Vec<LoggedRequest> {
    log.lines()
        .filter(|line| line.contains(FINISHED))
        .filter_map(parse_line)
        .collect()
}

fn parse_line(line: &str) -> Option<LoggedRequest> {
    let method = field(line, "request{method=")?;
    let uri = field(line, " uri=")?;
    let status = field(line, " status=")?.parse().ok()?;
    Some(LoggedRequest {
        method: method.to_owned(),
        uri: uri.to_owned(),
        status,
    })
}

/// The text after `marker` up to the next space, `}` or end of line.
fn field<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let start = line.find(marker)? + marker.len();
    let rest = &line[start..];
    let end = rest.find([' ', '}']).unwrap_or(rest.len());
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_finished_requests_only() {
        let log = "\
2026-01-01T00:00:00Z  INFO pyoci::server: listening on 127.0.0.1:8080
2026-01-01T00:00:01Z DEBUG request{method=GET uri=/r/ns/demo/ version=HTTP/1.1}: tower_http::trace::on_request: started processing request
2026-01-01T00:00:01Z DEBUG request{method=GET uri=/r/ns/demo/ version=HTTP/1.1}: tower_http::trace::on_response: finished processing request latency=3 ms status=200
2026-01-01T00:00:02Z DEBUG request{method=HEAD uri=/r/ns/demo/demo-1.0-py3-none-any.whl version=HTTP/1.1}: tower_http::trace::on_response: finished processing request latency=1 ms status=404
";
        let requests = answered_requests(log);
        assert_eq!(
            requests,
            vec![
                LoggedRequest {
                    method: "GET".into(),
                    uri: "/r/ns/demo/".into(),
                    status: 200
                },
                LoggedRequest {
                    method: "HEAD".into(),
                    uri: "/r/ns/demo/demo-1.0-py3-none-any.whl".into(),
                    status: 404
                },
            ]
        );
        assert_eq!(requests[0].last_segment(), "");
        assert_eq!(requests[1].last_segment(), "demo-1.0-py3-none-any.whl");
    }

    #[test]
    fn lines_without_the_fields_are_skipped() {
        assert!(answered_requests("finished processing request status=200\n").is_empty());
        assert!(answered_requests("").is_empty());
    }
}
