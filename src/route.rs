//! The URL scheme: which request is which, parsed once into a typed [`Route`].
//!
//! `/<registry>/<namespace>[/<sub/path>]/<project>/[<filename>|json]`, where `<registry>` is a
//! host (https) or a percent-encoded `http%3A%2F%2Fhost%3Aport` (plain http). A PyOCI serving
//! one fixed registry also takes the same paths without `<registry>`.

use std::fmt;

use http::Method;
use percent_encoding::percent_decode_str;
use pyoci_oci::Registry;

use crate::{package::ProjectName, registry_list::same_registry};

/// Where packages live: a registry and a namespace (repository prefix) in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The registry to talk to.
    pub registry: Registry,
    /// The registry segment exactly as the client wrote it, for building URLs back; when a
    /// fixed-registry URL left it out, the fixed registry's [`registry_segment_for`].
    pub registry_segment: String,
    /// `acme` or `acme/python/team1`, lowercase.
    pub namespace: String,
    /// The public path prefix the registry segment follows (`""` at the root, else e.g.
    /// `/pypi`), for links and redirects back to PyOCI.
    pub link_base: String,
}

/// What a request asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// `GET /health`
    Health,
    /// `GET /<registry>/<namespace>/`: the namespace's projects.
    ProjectList { target: Target },
    /// `GET .../<project>/`: the simple-index page. With a namespace of several segments the
    /// path may also name a namespace; the handler falls back to its project list.
    ProjectPage {
        target: Target,
        project: ProjectName,
        /// Whether the URL spells the project's normalized name; else the page redirects.
        spelled_normalized: bool,
    },
    /// `GET /<registry>/<namespace>/+simple/<project>/`: the project page at devpi's path,
    /// which hatch reads before uploading to skip files that exist. Private files only: a
    /// public file of the same name must never make hatch skip a private upload.
    UploadProbe {
        target: Target,
        project: ProjectName,
        spelled_normalized: bool,
    },
    /// `GET .../<project>` without the slash.
    AddSlash { location: String },
    /// `GET .../<project>/<filename>`: a file.
    File {
        target: Target,
        project: ProjectName,
        filename: String,
    },
    /// `DELETE .../<project>/<filename>`.
    DeleteFile {
        target: Target,
        project: ProjectName,
        filename: String,
    },
    /// `DELETE .../<project>/<version>`: a whole version with all its files, as the original
    /// PyOCI does it.
    DeleteVersion {
        target: Target,
        project: ProjectName,
        version: String,
    },
    /// `GET .../<project>/json`: the PyPI-style JSON the original PyOCI serves for Renovate.
    ProjectJson {
        target: Target,
        project: ProjectName,
    },
    /// `GET /<registry>/<namespace>/+about/`: the namespace's page for people.
    AboutNamespace { target: Target },
    /// `GET /<registry>/<namespace>/+about/<project>/`: the project's page for people. `+`
    /// is in no project, file or repository name, so this never shadows a project.
    AboutProject {
        target: Target,
        project: ProjectName,
    },
    /// `POST /<registry>/<namespace>/`: the legacy upload API.
    Upload { target: Target },
    /// `POST .../<project>/+yank/<version or filename>` (or `+unyank`): PEP 592 yanking.
    Yank {
        target: Target,
        project: ProjectName,
        what: String,
        yank: bool,
    },
}

impl Route {
    /// The registry and namespace the request is for, if it is for one.
    pub fn target(&self) -> Option<&Target> {
        match self {
            Route::ProjectList { target }
            | Route::ProjectPage { target, .. }
            | Route::File { target, .. }
            | Route::DeleteFile { target, .. }
            | Route::DeleteVersion { target, .. }
            | Route::ProjectJson { target, .. }
            | Route::AboutNamespace { target }
            | Route::AboutProject { target, .. }
            | Route::UploadProbe { target, .. }
            | Route::Upload { target }
            | Route::Yank { target, .. } => Some(target),
            Route::Health | Route::AddSlash { .. } => None,
        }
    }

    fn target_mut(&mut self) -> Option<&mut Target> {
        match self {
            Route::ProjectList { target }
            | Route::ProjectPage { target, .. }
            | Route::File { target, .. }
            | Route::DeleteFile { target, .. }
            | Route::DeleteVersion { target, .. }
            | Route::ProjectJson { target, .. }
            | Route::Upload { target }
            | Route::UploadProbe { target, .. }
            | Route::AboutNamespace { target, .. }
            | Route::AboutProject { target, .. }
            | Route::Yank { target, .. } => Some(target),
            Route::Health | Route::AddSlash { .. } => None,
        }
    }
}

impl Route {
    /// A short fixed name for the kind of route, for metrics labels and the access log.
    pub fn kind(&self) -> &'static str {
        match self {
            Route::Health => "health",
            Route::ProjectList { .. } => "project_list",
            Route::ProjectPage { .. } => "project_page",
            Route::UploadProbe { .. } => "upload_probe",
            Route::AboutNamespace { .. } => "about_namespace",
            Route::AboutProject { .. } => "about_project",
            Route::AddSlash { .. } => "add_slash",
            Route::File { .. } => "file",
            Route::DeleteFile { .. } => "delete",
            Route::DeleteVersion { .. } => "delete_version",
            Route::ProjectJson { .. } => "json",
            Route::Upload { .. } => "upload",
            Route::Yank { .. } => "yank",
        }
    }
}

/// A request that matches no route.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteError {
    /// Nothing lives at this path.
    NotFound(String),
    /// The path is shaped right but a part of it is unusable.
    BadRequest(String),
    /// The path exists but not for this method.
    MethodNotAllowed { allow: &'static str },
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::NotFound(message) | RouteError::BadRequest(message) => f.write_str(message),
            RouteError::MethodNotAllowed { allow } => {
                write!(f, "method not allowed here; this URL accepts {allow}")
            }
        }
    }
}

const USAGE: &str = "PyOCI URLs look like /<registry>/<namespace>/<project>/, e.g. \
                     /ghcr.io/my-org/hello-world/; upload to /<registry>/<namespace>/";
/// Where [`USAGE`]'s example URLs start, for [`RouteError::under`].
const USAGE_PATHS: [&str; 3] = [" /<registry>/", " /ghcr.io/", "to /<registry>/"];

impl RouteError {
    /// The error as seen under `prefix` (`PYOCI_PATH` or a mount): the URLs it shows as
    /// examples start with the prefix, as the client's URLs must.
    fn under(self, prefix: &str) -> RouteError {
        let prefixed = |message: String| {
            USAGE_PATHS.iter().fold(message, |message, start| {
                let (lead, path) = start.split_at(start.find('/').unwrap_or(0));
                message.replace(start, &format!("{lead}{prefix}{path}"))
            })
        };
        match self {
            _ if prefix.is_empty() => self,
            RouteError::NotFound(message) => RouteError::NotFound(prefixed(message)),
            other => other,
        }
    }
}
const DIST_SUFFIXES: [&str; 2] = [".whl", ".tar.gz"];
/// devpi's simple-index segment, which hatch probes before uploading.
const DEVPI_SIMPLE: &str = "+simple";
/// The segment before a page for people (PyPI keeps `/project/` apart from `/simple/`).
pub const ABOUT: &str = "+about";
/// What PEP 658 appends to a file's URL for its core metadata.
pub const METADATA_SUFFIX: &str = ".metadata";

/// Parses a request's method and raw (still percent-encoded) path.
pub fn route(method: &Method, path: &str, prefix: &str) -> Result<Route, RouteError> {
    route_with_fixed_registry(method, path, prefix, None)
}

/// Parses like [`route`], for a PyOCI that serves one `fixed` registry: then the path may
/// leave out the registry segment (`/<namespace>/<project>/`). A first segment naming
/// `fixed` (`ghcr.io`, `http%3A%2F%2F127.0.0.1%3A5000`...) or carrying a scheme is still the
/// registry segment; any other first segment starts the namespace.
pub fn route_with_fixed_registry(
    method: &Method,
    path: &str,
    prefix: &str,
    fixed: Option<&Registry>,
) -> Result<Route, RouteError> {
    let mut route =
        route_under_prefix(method, path, prefix, fixed).map_err(|err| err.under(prefix))?;
    if let Some(target) = route.target_mut() {
        target.link_base = prefix.to_owned();
    }
    Ok(route)
}

fn route_under_prefix(
    method: &Method,
    path: &str,
    prefix: &str,
    fixed: Option<&Registry>,
) -> Result<Route, RouteError> {
    if path == "/health" {
        return Ok(Route::Health);
    }
    let not_found = || RouteError::NotFound(format!("no such page. {USAGE}"));
    let rest = path
        .strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('/'))
        .ok_or_else(not_found)?;
    let mut segments: Vec<&str> = rest.split('/').collect();
    let trailing_slash = segments.last() == Some(&"");
    if trailing_slash {
        segments.pop();
    }
    if let Some(hint) = registry_written_as_url(&segments) {
        return Err(RouteError::BadRequest(hint));
    }
    let fixed_segment = fixed.map(registry_segment_for);
    let (registry_segment, rest) = match (fixed, &fixed_segment, segments.split_first()) {
        (Some(fixed), Some(segment), Some((first, _))) if !names_a_registry(first, fixed) => {
            (segment.as_str(), segments.as_slice())
        }
        (_, _, Some((first, rest))) => (*first, rest),
        (_, _, None) => return Err(not_found()),
    };
    if registry_segment.is_empty() {
        return Err(not_found());
    }
    let rest: Vec<String> = rest.iter().map(|s| decode(s)).collect::<Result<_, _>>()?;

    if *method == Method::POST {
        // `+` cannot be part of a repository name, so these never clash with uploads.
        if let [namespace @ .., project, action, what] = rest.as_slice() {
            if let Some(yank) = yank_action(action) {
                return Ok(Route::Yank {
                    target: target(registry_segment, namespace)?,
                    project: project_name(project)?,
                    what: what.clone(),
                    yank,
                });
            }
        }
        let target = target(registry_segment, &rest)?;
        return Ok(Route::Upload { target });
    }
    let is_read = *method == Method::GET || *method == Method::HEAD;
    let Some((last, before)) = rest.split_last() else {
        return Err(not_found());
    };
    // `<file>.metadata` is the file's core metadata (PEP 658).
    let file_part = last.strip_suffix(METADATA_SUFFIX).unwrap_or(last);
    let looks_like_file = DIST_SUFFIXES.iter().any(|s| file_part.ends_with(s));

    if *method == Method::DELETE {
        // A file name deletes one file; anything else in that place is a version.
        let (project, namespace) = split_project(before, !trailing_slash)?;
        let target = target(registry_segment, namespace)?;
        let project = project_name(&project)?;
        return Ok(if looks_like_file {
            Route::DeleteFile {
                target,
                project,
                filename: last.clone(),
            }
        } else {
            Route::DeleteVersion {
                target,
                project,
                version: last.clone(),
            }
        });
    }
    if !is_read {
        return Err(RouteError::MethodNotAllowed {
            allow: "GET, HEAD, POST (upload) and DELETE (files and versions)",
        });
    }
    if trailing_slash {
        match rest.as_slice() {
            [namespace @ .., about] if about == ABOUT => {
                return Ok(Route::AboutNamespace {
                    target: target(registry_segment, namespace)?,
                });
            }
            [namespace @ .., about, project] if about == ABOUT => {
                return Ok(Route::AboutProject {
                    target: target(registry_segment, namespace)?,
                    project: project_name(project)?,
                });
            }
            _ => {}
        }
    }
    // hatch looks for existing files at devpi's `<upload-url>/+simple/<project>/`.
    if let [namespace @ .., simple, project] = rest.as_slice() {
        if simple == DEVPI_SIMPLE && is_read && trailing_slash {
            return Ok(Route::UploadProbe {
                target: target(registry_segment, namespace)?,
                project: project_name(project)?,
                spelled_normalized: spelled_normalized(project),
            });
        }
    }
    if trailing_slash && before.is_empty() {
        return Ok(Route::ProjectList {
            target: target(registry_segment, &rest)?,
        });
    }
    if trailing_slash {
        return Ok(Route::ProjectPage {
            target: target(registry_segment, before)?,
            project: project_name(last)?,
            spelled_normalized: spelled_normalized(last),
        });
    }
    if looks_like_file || (last == "json" && before.len() >= 2) {
        let (project, namespace) = split_project(before, true)?;
        let target = target(registry_segment, namespace)?;
        let project = project_name(&project)?;
        return Ok(if looks_like_file {
            Route::File {
                target,
                project,
                filename: last.clone(),
            }
        } else {
            Route::ProjectJson { target, project }
        });
    }
    // `/<registry>/<namespace>` (a namespace without its slash) gets its slash, as a project
    // URL does, once the namespace is one.
    if before.is_empty() {
        target(registry_segment, &rest)?;
    }
    Ok(Route::AddSlash {
        location: format!("{path}/"),
    })
}

fn yank_action(segment: &str) -> Option<bool> {
    match segment {
        "+yank" => Some(true),
        "+unyank" => Some(false),
        _ => None,
    }
}

fn split_project(segments: &[String], ok: bool) -> Result<(String, &[String]), RouteError> {
    match segments.split_last() {
        Some((project, namespace)) if ok && !namespace.is_empty() => {
            Ok((project.clone(), namespace))
        }
        _ => Err(RouteError::NotFound(format!(
            "expected /<registry>/<namespace>/<project>/<filename>. {USAGE}"
        ))),
    }
}

/// The project a path segment names, parsed once here for every handler.
fn project_name(segment: &str) -> Result<ProjectName, RouteError> {
    ProjectName::parse(segment).map_err(|err| RouteError::BadRequest(err.to_string()))
}

/// Whether `segment` is the normalized spelling of the project it names.
fn spelled_normalized(segment: &str) -> bool {
    ProjectName::parse(segment).is_ok_and(|name| name.normalized() == segment)
}

fn decode(segment: &str) -> Result<String, RouteError> {
    percent_decode_str(segment)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| RouteError::BadRequest("the URL path is not valid UTF-8".into()))
}

fn target(registry_segment: &str, namespace: &[String]) -> Result<Target, RouteError> {
    if namespace.is_empty() {
        return Err(RouteError::NotFound(format!(
            "a namespace is missing after the registry. {USAGE}"
        )));
    }
    for component in namespace {
        if !is_repository_component(component) {
            return Err(RouteError::BadRequest(format!(
                "`{component}` cannot be part of an OCI repository name: use lowercase \
                 letters, digits and single `.`, `_` or `-` between them"
            )));
        }
    }
    Ok(Target {
        registry: parse_registry(registry_segment)?,
        registry_segment: registry_segment.to_owned(),
        namespace: namespace.join("/").to_ascii_lowercase(),
        link_base: String::new(),
    })
}

/// The URL to use when a path starts with a registry written as a URL (`/http://host:5001/…`,
/// whose `//` splits it into `http:`, an empty segment and the host).
fn registry_written_as_url(segments: &[&str]) -> Option<String> {
    let (first, rest) = segments.split_first()?;
    let scheme = first.strip_suffix(':')?.to_ascii_lowercase();
    if scheme != "http" && scheme != "https" {
        return None;
    }
    let authority = rest.iter().find(|segment| !segment.is_empty())?;
    let segment = match scheme.as_str() {
        "https" => (*authority).to_owned(),
        _ => format!("http%3A%2F%2F{}", authority.replace(':', "%3A")),
    };
    Some(format!(
        "the registry is written as a URL ({scheme}://{authority}) in the path; write it as \
         the one segment {segment}, as in /{segment}/<namespace>/"
    ))
}

/// Whether a fixed-registry path's first segment is a registry segment: `fixed` however
/// written, or any segment with a scheme (which no namespace has), so that naming another
/// registry is refused rather than read as a namespace.
fn names_a_registry(segment: &str, fixed: &Registry) -> bool {
    let Ok(decoded) = decode(segment) else {
        return false;
    };
    decoded.contains("://")
        || parse_registry(segment).is_ok_and(|registry| same_registry(&registry, fixed))
}

/// The segment naming `registry` in a URL: `host[:port]` for https, percent-encoded
/// `http%3A%2F%2Fhost%3Aport` for http.
pub fn registry_segment_for(registry: &Registry) -> String {
    match registry.scheme() {
        "https" => registry.authority().to_owned(),
        scheme => format!("{scheme}://{}", registry.authority())
            .replace(':', "%3A")
            .replace('/', "%2F"),
    }
}

/// `ghcr.io` -> https; `http%3A%2F%2Fhost%3A5000` or `https%3A%2F%2F...` -> as given.
fn parse_registry(segment: &str) -> Result<Registry, RouteError> {
    let decoded = decode(segment)?;
    let (scheme, authority) = decoded.split_once("://").unwrap_or(("https", &decoded));
    let bad = |why: String| {
        RouteError::BadRequest(format!(
            "`{decoded}` is not a registry: {why}. Give a host such as ghcr.io, or \
             http%3A%2F%2Fhost%3Aport for a plain-http registry"
        ))
    };
    if authority.contains(['@', '/', '?', '#']) {
        return Err(bad("only host[:port] may follow the scheme".into()));
    }
    Registry::new(scheme, authority).map_err(|err| bad(err.to_string()))
}

/// OCI distribution: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` (we lowercase before checking).
fn is_repository_component(component: &str) -> bool {
    let lower = component.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    !bytes.is_empty()
        && bytes.first().is_some_and(alnum)
        && bytes.last().is_some_and(alnum)
        && bytes
            .iter()
            .all(|b| alnum(b) || matches!(b, b'.' | b'_' | b'-'))
        && !lower.contains("..")
        && !lower.contains("._")
        && !lower.contains("_.")
        && !lower.contains("___")
        && !lower.contains(".-")
        && !lower.contains("-.")
}

#[cfg(test)]
mod tests {
    use super::*;

    const REG: &str = "http%3A%2F%2F127.0.0.1%3A5000";

    fn get(path: &str) -> Result<Route, RouteError> {
        route(&Method::GET, path, "")
    }

    fn target_of(route: Route) -> Target {
        match route {
            Route::ProjectPage { target, .. }
            | Route::ProjectList { target }
            | Route::File { target, .. }
            | Route::DeleteFile { target, .. }
            | Route::DeleteVersion { target, .. }
            | Route::ProjectJson { target, .. }
            | Route::AboutNamespace { target }
            | Route::AboutProject { target, .. }
            | Route::UploadProbe { target, .. }
            | Route::Upload { target }
            | Route::Yank { target, .. } => target,
            other => panic!("no target in {other:?}"),
        }
    }

    #[test]
    fn pages_for_people_never_shadow_projects() {
        assert!(matches!(
            get(&format!("/{REG}/acme/team/+about/")).unwrap(),
            Route::AboutNamespace { target } if target.namespace == "acme/team"
        ));
        assert!(matches!(
            get(&format!("/{REG}/acme/+about/hello/")).unwrap(),
            Route::AboutProject { target, project } if target.namespace == "acme" && project.normalized() == "hello"
        ));
        // The simple pages keep their paths.
        assert!(matches!(
            get(&format!("/{REG}/acme/about/")).unwrap(),
            Route::ProjectPage { project, spelled_normalized: true, .. } if project.normalized() == "about"
        ));
    }

    #[test]
    fn project_pages() {
        let page = get(&format!("/{REG}/acme/team1/Hello_World/")).unwrap();
        assert!(matches!(
            &page,
            Route::ProjectPage { project, spelled_normalized: false, .. }
                if project.normalized() == "hello-world"
        ));
        let target = target_of(page);
        assert_eq!(target.registry.to_string(), "http://127.0.0.1:5000");
        assert_eq!(target.namespace, "acme/team1");
        assert_eq!(target.registry_segment, REG);

        let https = target_of(get("/ghcr.io/Acme/hello/").unwrap());
        assert_eq!(https.registry.to_string(), "https://ghcr.io");
        assert_eq!(https.namespace, "acme");
    }

    #[test]
    fn files_json_and_redirects() {
        assert!(matches!(
            get("/ghcr.io/acme/hello/hello-1.0%2Bcpu.tar.gz").unwrap(),
            Route::File { project, filename, .. } if project.normalized() == "hello" && filename == "hello-1.0+cpu.tar.gz"
        ));
        assert!(matches!(
            get("/ghcr.io/acme/hello/hello-1.0-py3-none-any.whl.metadata").unwrap(),
            Route::File { filename, .. } if filename == "hello-1.0-py3-none-any.whl.metadata"
        ));
        assert!(matches!(
            get("/ghcr.io/acme/hello/json").unwrap(),
            Route::ProjectJson { project, .. } if project.normalized() == "hello"
        ));
        assert_eq!(
            get("/ghcr.io/acme/hello").unwrap(),
            Route::AddSlash {
                location: "/ghcr.io/acme/hello/".into()
            }
        );
        assert!(matches!(
            get("/ghcr.io/").unwrap_err(),
            RouteError::NotFound(_)
        ));
        // A namespace without its slash gets it, as a project does (issue 19).
        assert_eq!(
            get("/ghcr.io/acme").unwrap(),
            Route::AddSlash {
                location: "/ghcr.io/acme/".into()
            }
        );
        assert!(matches!(get("/").unwrap_err(), RouteError::NotFound(_)));
        assert_eq!(get("/health").unwrap(), Route::Health);
        let devpi = get("/ghcr.io/acme/team/+simple/hello/").unwrap();
        assert!(
            matches!(&devpi, Route::UploadProbe { project, .. } if project.normalized() == "hello")
        );
        assert_eq!(target_of(devpi).namespace, "acme/team");
    }

    #[test]
    fn uploads_and_deletes() {
        for path in ["/ghcr.io/acme/team/", "/ghcr.io/acme/team"] {
            let upload = route(&Method::POST, path, "").unwrap();
            assert!(matches!(&upload, Route::Upload { .. }));
            assert_eq!(target_of(upload).namespace, "acme/team");
        }
        assert!(route(&Method::POST, "/ghcr.io/", "").is_err());
        let yank = route(&Method::POST, "/ghcr.io/acme/team/hello/+yank/1.0", "").unwrap();
        assert!(
            matches!(&yank, Route::Yank { project, what, yank: true, .. } if project.normalized() == "hello" && what == "1.0")
        );
        assert_eq!(target_of(yank).namespace, "acme/team");
        assert!(matches!(
            route(
                &Method::POST,
                "/ghcr.io/acme/hello/+unyank/hello-1.0.tar.gz",
                ""
            )
            .unwrap(),
            Route::Yank { yank: false, .. }
        ));
        let delete = route(&Method::DELETE, "/ghcr.io/acme/hello/hello-1.0.tar.gz", "").unwrap();
        assert!(
            matches!(delete, Route::DeleteFile { ref filename, .. } if filename == "hello-1.0.tar.gz")
        );
        assert!(route(&Method::DELETE, "/ghcr.io/acme/hello/", "").is_err());
        let version = route(&Method::DELETE, "/ghcr.io/acme/team/hello/1.0.0", "").unwrap();
        assert!(
            matches!(&version, Route::DeleteVersion { project, version, .. } if project.normalized() == "hello" && version == "1.0.0")
        );
        assert_eq!(target_of(version).namespace, "acme/team");
        assert!(route(&Method::DELETE, "/ghcr.io/hello/1.0.0/", "").is_err());
        assert!(route(&Method::DELETE, "/ghcr.io/1.0.0", "").is_err());
        assert!(matches!(
            route(&Method::PUT, "/ghcr.io/acme/hello/", "").unwrap_err(),
            RouteError::MethodNotAllowed { .. }
        ));
    }

    #[test]
    fn prefix_is_required_when_set() {
        assert!(route(&Method::GET, "/pyoci/ghcr.io/acme/hello/", "/pyoci").is_ok());
        assert!(route(&Method::GET, "/ghcr.io/acme/hello/", "/pyoci").is_err());
        assert!(route(&Method::GET, "/pyocix/ghcr.io/acme/hello/", "/pyoci").is_err());
        let under = route(&Method::GET, "/pyoci/ghcr.io/acme/hello/", "/pyoci").unwrap();
        assert_eq!(target_of(under).link_base, "/pyoci");
    }

    #[test]
    fn bad_registries_and_namespaces() {
        for path in [
            "/ftp%3A%2F%2Fhost/acme/hello/",
            "/http%3A%2F%2Fuser%40host/acme/hello/",
            "/host%2Fpath/acme/hello/",
            "/ghcr.io/ac..me/hello/",
            "/ghcr.io/-acme/hello/",
            "/ghcr.io/ac%20me/hello/",
            "/ghcr.io/%FF/hello/",
        ] {
            assert!(
                matches!(get(path), Err(RouteError::BadRequest(_))),
                "{path}"
            );
        }
    }

    fn fixed(path: &str, method: Method) -> Result<Route, RouteError> {
        let registry = Registry::new("http", "127.0.0.1:5000").unwrap();
        route_with_fixed_registry(&method, path, "/pyoci", Some(&registry))
    }

    #[test]
    fn fixed_registry_paths_may_leave_out_the_registry() {
        let lowercase = "http%3a%2f%2f127.0.0.1%3a5000";
        for (path, segment) in [
            ("/pyoci/acme/team/hello/".to_owned(), REG),
            (format!("/pyoci/{REG}/acme/team/hello/"), REG),
            (format!("/pyoci/{lowercase}/acme/team/hello/"), lowercase),
        ] {
            let path = path.as_str();
            let page = fixed(path, Method::GET).unwrap();
            assert!(
                matches!(&page, Route::ProjectPage { project, .. } if project.normalized() == "hello"),
                "{path}"
            );
            let target = target_of(page);
            assert_eq!(
                target.registry.to_string(),
                "http://127.0.0.1:5000",
                "{path}"
            );
            assert_eq!(target.namespace, "acme/team", "{path}");
            assert_eq!(target.registry_segment, segment, "{path}");
        }
        let upload = target_of(fixed("/pyoci/acme/", Method::POST).unwrap());
        assert_eq!(upload.namespace, "acme");
        assert_eq!(upload.registry.to_string(), "http://127.0.0.1:5000");
        assert!(matches!(
            fixed("/pyoci/acme/hello/hello-1.0.tar.gz", Method::GET).unwrap(),
            Route::File { project, .. } if project.normalized() == "hello"
        ));
        // Another host without a scheme reads as a namespace on the fixed registry.
        let namespace = target_of(fixed("/pyoci/ghcr.io/acme/hello/", Method::GET).unwrap());
        assert_eq!(namespace.namespace, "ghcr.io/acme");
        assert_eq!(namespace.registry.to_string(), "http://127.0.0.1:5000");
    }

    #[test]
    fn fixed_registry_paths_naming_another_registry_keep_it() {
        let other =
            target_of(fixed("/pyoci/https%3A%2F%2Fghcr.io/acme/hello/", Method::GET).unwrap());
        assert_eq!(other.registry.to_string(), "https://ghcr.io");
        assert_eq!(other.namespace, "acme");
        let https = Registry::new("https", "ghcr.io").unwrap();
        let written =
            route_with_fixed_registry(&Method::GET, "/ghcr.io/acme/hello/", "", Some(&https));
        let written = target_of(written.unwrap());
        assert_eq!(
            (
                written.namespace.as_str(),
                written.registry_segment.as_str()
            ),
            ("acme", "ghcr.io")
        );
        let left_out = target_of(
            route_with_fixed_registry(&Method::GET, "/acme/hello/", "", Some(&https)).unwrap(),
        );
        assert_eq!(
            (
                left_out.namespace.as_str(),
                left_out.registry_segment.as_str()
            ),
            ("acme", "ghcr.io")
        );
    }

    #[test]
    fn registry_segments_round_trip() {
        for (scheme, authority, segment) in [
            ("https", "ghcr.io", "ghcr.io"),
            ("https", "registry.example:8443", "registry.example:8443"),
            ("http", "127.0.0.1:5000", REG),
        ] {
            let registry = Registry::new(scheme, authority).unwrap();
            assert_eq!(registry_segment_for(&registry), segment);
            assert_eq!(parse_registry(segment).unwrap(), registry);
        }
    }

    #[test]
    fn routes_know_their_target() {
        assert!(get("/health").unwrap().target().is_none());
        assert!(get("/ghcr.io/acme/hello").unwrap().target().is_none());
        let page = get("/ghcr.io/acme/hello/").unwrap();
        assert_eq!(page.target().unwrap().namespace, "acme");
    }

    /// A registry written as a URL in the path is answered with the segment to write.
    #[test]
    fn a_registry_written_as_a_url_is_told_its_segment() {
        let error = get("/http://127.0.0.1:5001/ns/pkg/")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("write it as the one segment http%3A%2F%2F127.0.0.1%3A5001"),
            "{error}"
        );
        let error = get("/https://ghcr.io/acme/").unwrap_err().to_string();
        assert!(error.contains("the one segment ghcr.io,"), "{error}");
        assert!(get("/http%3A%2F%2F127.0.0.1%3A5001/ns/pkg/").is_ok());
    }

    /// Under a prefix, the example URLs of a 404 start with it; a namespace without its
    /// trailing slash is redirected to it, as a project is.
    #[test]
    fn mounted_404s_show_the_prefix_and_namespaces_get_their_slash() {
        let error = route(&Method::GET, "/pypi/", "/pypi")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("look like /pypi/<registry>/<namespace>/<project>/"),
            "{error}"
        );
        assert!(
            error.contains("e.g. /pypi/ghcr.io/my-org/hello-world/"),
            "{error}"
        );
        assert!(
            error.contains("upload to /pypi/<registry>/<namespace>/"),
            "{error}"
        );
        let root = route(&Method::GET, "/", "").unwrap_err().to_string();
        assert!(root.contains("look like /<registry>/"), "{root}");

        let redirect = route(&Method::GET, "/pypi/ghcr.io/acme", "/pypi").unwrap();
        assert!(
            matches!(&redirect, Route::AddSlash { location } if location == "/pypi/ghcr.io/acme/"),
            "{redirect:?}"
        );
        assert!(route(&Method::GET, "/ghcr.io/Not%20A%20Namespace", "").is_err());
    }
}
