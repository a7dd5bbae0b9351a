//! `pyoci::route::route` and `route_with_fixed_registry` on arbitrary methods, paths,
//! prefixes and fixed registries.
//!
//! Properties: it never panics; every target it returns has a lowercase, non-empty namespace
//! of valid repository components; with a fixed registry, a target's registry segment is one
//! the client wrote or the fixed registry's own; a redirect adds exactly one `/` to the path.

use arbitrary::Arbitrary;
use http::Method;
use pyoci::route::{registry_segment_for, route, route_with_fixed_registry, Route, Target};
use pyoci_oci::Registry;

#[derive(Arbitrary, Debug)]
pub struct Input<'a> {
    pub method: MethodChoice<'a>,
    pub prefix: Prefix<'a>,
    pub fixed: Fixed<'a>,
    pub path: &'a str,
}

#[derive(Arbitrary, Debug)]
pub enum MethodChoice<'a> {
    Get,
    Head,
    Post,
    Delete,
    Put,
    Other(&'a [u8]),
}

#[derive(Arbitrary, Debug)]
pub enum Prefix<'a> {
    None,
    Pyoci,
    Any(&'a str),
}

#[derive(Arbitrary, Debug)]
pub enum Fixed<'a> {
    None,
    Ghcr,
    LocalHttp,
    Any { http: bool, authority: &'a str },
}

/// Checks the properties above on one input; panics when one does not hold.
pub fn check(input: Input<'_>) {
    let method = match input.method {
        MethodChoice::Get => Method::GET,
        MethodChoice::Head => Method::HEAD,
        MethodChoice::Post => Method::POST,
        MethodChoice::Delete => Method::DELETE,
        MethodChoice::Put => Method::PUT,
        MethodChoice::Other(bytes) => match Method::from_bytes(bytes) {
            Ok(method) => method,
            Err(_) => return,
        },
    };
    let prefix = match input.prefix {
        Prefix::None => "",
        Prefix::Pyoci => "/pyoci",
        Prefix::Any(prefix) => prefix,
    };
    let fixed = match input.fixed {
        Fixed::None => None,
        Fixed::Ghcr => Registry::new("https", "ghcr.io").ok(),
        Fixed::LocalHttp => Registry::new("http", "127.0.0.1:5000").ok(),
        Fixed::Any { http, authority } => {
            Registry::new(if http { "http" } else { "https" }, authority).ok()
        }
    };

    if let Ok(found) = route(&method, input.path, prefix) {
        check_route(&found, input.path, None);
    }
    if let Some(fixed) = &fixed {
        if let Ok(found) = route_with_fixed_registry(&method, input.path, prefix, Some(fixed)) {
            check_route(&found, input.path, Some(fixed));
        }
    }
}

fn check_route(found: &Route, path: &str, fixed: Option<&Registry>) {
    match found {
        Route::Health => assert_eq!(path, "/health"),
        Route::AddSlash { location } => assert_eq!(*location, format!("{path}/")),
        _ => {}
    }
    if let Some(target) = found.target() {
        check_target(target, found, path, fixed);
    }
}

fn check_target(target: &Target, found: &Route, path: &str, fixed: Option<&Registry>) {
    let namespace = &target.namespace;
    assert!(!namespace.is_empty(), "empty namespace in {found:?}");
    assert!(
        !namespace.chars().any(char::is_uppercase),
        "namespace {namespace:?} is not lowercase in {found:?}"
    );
    for component in namespace.split('/') {
        let bytes = component.as_bytes();
        let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        assert!(
            bytes.first().is_some_and(alnum)
                && bytes.last().is_some_and(alnum)
                && bytes
                    .iter()
                    .all(|b| alnum(b) || matches!(b, b'.' | b'_' | b'-')),
            "namespace component {component:?} is not a repository component in {found:?}"
        );
    }
    let segment = &target.registry_segment;
    let written = path.split('/').any(|part| part == segment);
    let is_fixed = fixed.is_some_and(|fixed| *segment == registry_segment_for(fixed));
    assert!(
        written || is_fixed,
        "registry segment {segment:?} is neither in {path:?} nor the fixed registry's"
    );
}
