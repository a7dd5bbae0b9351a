//! The event listener: [`pyoci_events::RegistryEvents`] on a port of its own, telling the
//! caches which repositories changed.

use std::{
    convert::Infallible,
    net::{IpAddr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::{body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::{TokioIo, TokioTimer};
use pyoci_events::{RegistryEvents, Secret};
use tokio::net::TcpListener;
use tower::{BoxError, ServiceExt};

use super::EventSettings;
use crate::{
    cache::{Caches, Project},
    registry_list::{same_registry, RegistryList},
};

/// How long a sender may take to send its request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a sender may take to send its whole request (at most 1 MiB).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Binds the event listener if `PYOCI_EVENTS_PORT` is set (on `PYOCI_EVENTS_HOST`, else
/// `default_host`), and serves it in the background for as long as the process runs.
/// Settings that cannot work stop the start.
pub(crate) async fn start(
    settings: &EventSettings,
    default_host: IpAddr,
    caches: Arc<Caches>,
) -> Result<(), BoxError> {
    let Some(port) = settings.events_port else {
        return Ok(());
    };
    let Some(registries) = settings.registries().cloned() else {
        return Err(
            "PYOCI_EVENTS_PORT is set but PYOCI_EVENT_REGISTRIES names no registry: \
                    list the registries that send their events here"
                .into(),
        );
    };
    let secret = Secret::new(settings.secret()?)
        .ok_or("the event secret is shorter than 16 bytes: use a long random string")?;
    let address = SocketAddr::new(settings.events_host.unwrap_or(default_host), port);
    let listener = TcpListener::bind(address)
        .await
        .map_err(|err| format!("cannot listen for registry events on {address}: {err}"))?;
    tracing::info!(
        registries = %registries,
        "registry events taken at http://{}/events/<source>/<registry>",
        listener.local_addr()?
    );
    let events = RegistryEvents::new(secret, move |registry: &str, repositories: &[String]| {
        invalidate(&caches, &registries, registry, repositories)
    });
    tokio::spawn(async move {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(err) => {
                    tracing::warn!(error = %err, "event listener accept failed");
                    // Out of file descriptors: let some close before trying again.
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let events = events.clone();
            // A sender gets this long for its whole request: a slow body (a GitHub
            // signature is checked only once the body is in) cannot hold a slot for long.
            let service = service_fn(move |request: Request<Incoming>| {
                let answer = events.clone().oneshot(request);
                async move {
                    Ok::<_, Infallible>(
                        tokio::time::timeout(REQUEST_TIMEOUT, answer)
                            .await
                            .unwrap_or_else(|_| Ok(too_slow()))
                            .unwrap_or_else(|never| match never {}),
                    )
                }
            });
            tokio::spawn(async move {
                let _ = http1::Builder::new()
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEADER_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(())
}

/// The answer to a sender that took longer than [`REQUEST_TIMEOUT`].
fn too_slow() -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(
        b"the event took too long to arrive: send it again\n",
    )));
    *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
    response
}

/// Drops what the caches hold of `repositories` in `registry` (as the sender wrote it),
/// when it is one of `registries`; `false` when it is not.
fn invalidate(
    caches: &Caches,
    registries: &RegistryList,
    registry: &str,
    repositories: &[String],
) -> bool {
    let Ok(named) = RegistryList::parse(registry) else {
        return false;
    };
    let [named] = named.iter().collect::<Vec<_>>()[..] else {
        return false;
    };
    let Some(listed) = registries
        .iter()
        .find(|listed| same_registry(listed, named))
    else {
        return false;
    };
    for repository in repositories {
        caches.changed(&Project::new(listed, repository));
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::TagTarget;

    #[test]
    fn an_event_drops_exactly_the_named_repositories_of_a_listed_registry() {
        let caches = Caches::new(Duration::from_secs(5), 1 << 20).with_events(
            ["http://127.0.0.1:5000".to_owned()],
            Duration::from_secs(600),
        );
        let listed: RegistryList = "http://127.0.0.1:5000, ghcr.io".parse().unwrap();
        let demo = Project::new("http://127.0.0.1:5000", "acme/demo");
        let other = Project::new("http://127.0.0.1:5000", "acme/other");
        for project in [&demo, &other] {
            caches.store_tag(project, "1.0", caches.snapshot(), TagTarget::Skipped);
        }
        assert!(!invalidate(
            &caches,
            &listed,
            "http://127.0.0.1:6000",
            &["acme/demo".into()]
        ));
        assert!(!invalidate(
            &caches,
            &listed,
            "not a registry/x",
            &["acme/demo".into()]
        ));
        assert!(caches.tag(&demo, "1.0").is_some());
        assert!(invalidate(
            &caches,
            &listed,
            "http://127.0.0.1:5000",
            &["acme/demo".into()]
        ));
        assert!(caches.tag(&demo, "1.0").is_none());
        assert!(
            caches.tag(&other, "1.0").is_some(),
            "other repositories stay cached"
        );
    }
}
