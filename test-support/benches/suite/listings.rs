//! Sections 1 and 2 of the report: listings, with the registry on loopback and 25 ms away.

use std::{
    fs,
    path::PathBuf,
    time::{Duration, Instant},
};

use pyoci_test_support::{content_form, wheel_bytes, Fault};

use crate::{
    index_base, start_pyoci,
    tools::{wrk, PypiServer, WrkResult},
    Settings, Setup, CLIENTS, RELAY_DELAY,
};

pub(crate) struct Project {
    name: String,
    versions: usize,
    /// The same wheels, for pypiserver.
    files: PathBuf,
}

/// Uploads projects of each size through a PyOCI of their own (so no later PyOCI starts with
/// anything cached), and writes the same wheels to a directory per project for pypiserver.
pub(crate) fn seed_listings(settings: &Settings, setup: &Setup) -> Vec<Project> {
    let seeder = start_pyoci(settings, &[]);
    let upload_url = format!("{}/", index_base(&seeder, &setup.registry.url_segment()));
    let mut projects = Vec::new();
    for &versions in &settings.versions {
        let name = format!("many{versions}");
        let files = setup.work.path().join(format!("files-{name}"));
        fs::create_dir_all(&files).expect("files directory");
        let started = Instant::now();
        let uploads: Vec<_> = (0..versions)
            .map(|i| {
                let version = format!("1.{}.{}", i / 100, i % 100);
                let filename = format!("{name}-{version}-py3-none-any.whl");
                let wheel = wheel_bytes(&name, &version, version.as_bytes());
                fs::write(files.join(&filename), &wheel).expect("write wheel");
                (version, filename, wheel)
            })
            .collect();
        // A few uploads at once: seeding 1,000 versions one by one takes minutes.
        std::thread::scope(|scope| {
            for part in uploads.chunks(versions.div_ceil(4)) {
                let (http, url, auth, name) = (&setup.http, &upload_url, &setup.auth, &name);
                scope.spawn(move || {
                    for (version, filename, wheel) in part {
                        let form = content_form(name, version, filename, wheel);
                        let response =
                            http.post_multipart(url, form, &[("Authorization", auth.as_str())]);
                        assert_eq!(response.status, 200, "seeding: {}", response.text());
                    }
                });
            }
        });
        eprintln!(
            "seeded {name}: {versions} versions in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        projects.push(Project {
            name,
            versions,
            files,
        });
    }
    projects
}

pub(crate) fn listing(settings: &Settings, setup: &Setup, projects: &[Project]) {
    println!(
        "## 1. Listing, {CLIENTS} concurrent clients (wrk, {} s each), registry on loopback",
        settings.seconds
    );
    println!();
    println!("| project | server | req/s | p50 ms | p99 ms | registry requests per listing |");
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    for project in projects {
        let row = |server: &str, result: &WrkResult, registry: Option<f64>| {
            if result.requests == 0.0 {
                println!(
                    "| {} versions | {server} | no listing completed in {} s | | | |",
                    project.versions, settings.seconds
                );
                return;
            }
            println!(
                "| {} versions | {server} | {:.0} | {:.1} | {:.1} | {} |",
                project.versions,
                result.requests_per_second,
                result.p50_ms,
                result.p99_ms,
                registry.map_or("—".into(), |r| format!("{r:.2}"))
            );
        };
        // Cold: nothing cached (caching off), every listing asks the registry.
        for (label, env) in [
            (
                "PyOCI cold (PYOCI_CACHE_TTL=0)",
                &[("PYOCI_CACHE_TTL", "0")][..],
            ),
            ("PyOCI warm", &[][..]),
        ] {
            let pyoci = start_pyoci(settings, env);
            let url = format!(
                "{}/{}/",
                index_base(&pyoci, &setup.relay.url_segment()),
                project.name
            );
            // The warm run starts with the page cached, as a second client would find it.
            let first = setup.http.get_with(&url, &[("Authorization", &setup.auth)]);
            assert_eq!(first.status, 200, "{}", first.text());
            let before = setup.relay.seen().len();
            let result = wrk(settings, &url, Some(&setup.auth));
            let registry = (setup.relay.seen().len() - before) as f64 / result.requests.max(1.0);
            setup.relay.forget_seen();
            row(label, &result, Some(registry));
        }
        let pypiserver = PypiServer::start(settings, &project.files);
        let url = pypiserver.url(&format!("/simple/{}/", project.name));
        let result = wrk(settings, &url, None);
        row("pypiserver (local files)", &result, None);
    }
    println!();
}

pub(crate) fn delayed(settings: &Settings, setup: &Setup, projects: &[Project]) {
    println!(
        "## 2. Listing with the registry {} ms away (a delaying relay)",
        RELAY_DELAY.as_millis()
    );
    println!();
    println!("| project | fresh PyOCI, first listing (cold) | second listing (warm) | after the TTL (tags revalidated) | req/s warm, {CLIENTS} clients | p99 ms |");
    println!("| --- | ---: | ---: | ---: | ---: | ---: |");
    write_listing_documents(settings, setup, projects);
    setup.relay.set(Fault::Delay(RELAY_DELAY));
    let variants: [(&str, &[(&str, &str)]); 2] = [
        ("", &[]),
        (
            ", PYOCI_LISTING_DOCUMENT=true",
            &[("PYOCI_LISTING_DOCUMENT", "true")],
        ),
    ];
    for (project, (variant, variant_env)) in variants
        .iter()
        .flat_map(|variant| projects.iter().map(move |project| (project, variant)))
    {
        let mut env = vec![("PYOCI_CACHE_TTL", "2")];
        env.extend_from_slice(variant_env);
        let pyoci = start_pyoci(settings, &env);
        let url = format!(
            "{}/{}/",
            index_base(&pyoci, &setup.relay.url_segment()),
            project.name
        );
        let timed = || {
            let started = Instant::now();
            let response = setup.http.get_with(&url, &[("Authorization", &setup.auth)]);
            assert_eq!(response.status, 200, "{}", response.text());
            started.elapsed().as_secs_f64()
        };
        let cold = timed();
        let warm = timed();
        std::thread::sleep(Duration::from_millis(2100));
        let revalidated = timed();
        let load = wrk(settings, &url, Some(&setup.auth));
        println!(
            "| {} versions{variant} | {cold:.3} s | {warm:.3} s | {revalidated:.3} s | {:.0} | {:.1} |",
            project.versions, load.requests_per_second, load.p99_ms
        );
    }
    setup.relay.clear();
    setup.relay.forget_seen();
    println!();
    println!("(PYOCI_CACHE_TTL=2 for these rows, so the third column shows a listing after the tag cache expired. Rows with PYOCI_LISTING_DOCUMENT=true read the project's listing document: the tag list and its index, at once; the first listing from it also checks it against every version tag in the background.)");
    println!();
}

/// Has a PyOCI with `PYOCI_LISTING_DOCUMENT=true` write each project's listing document
/// (from a full read: the seeder kept none), by un-yanking a file that is not yanked: a
/// write through PyOCI that changes no version.
fn write_listing_documents(settings: &Settings, setup: &Setup, projects: &[Project]) {
    let writer = start_pyoci(settings, &[("PYOCI_LISTING_DOCUMENT", "true")]);
    for project in projects {
        let url = format!(
            "{}/{}/+unyank/1.0.0",
            index_base(&writer, &setup.registry.url_segment()),
            project.name
        );
        let started = Instant::now();
        let response = setup
            .http
            .request("POST", &url, &[("Authorization", &setup.auth)], None);
        assert_eq!(response.status, 200, "{}", response.text());
        eprintln!(
            "listing document of {}: written in {:.2} s",
            project.name,
            started.elapsed().as_secs_f64()
        );
    }
}
