//! Serving the stack over HTTP/1 with hyper: bounded headers, no connection held by a slow
//! or idle client, and a graceful stop that lets in-flight uploads finish.

use std::{net::SocketAddr, time::Duration};

use hyper::{body::Incoming, server::conn::http1};
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::net::TcpListener;
use tower::BoxError;

use crate::{config::Config, connections::Connections};

/// At most this many request headers.
const MAX_HEADERS: usize = 64;
/// Read buffer size, which bounds the request head (line and headers).
const MAX_HEAD_BYTES: usize = 64 * 1024;
/// On SIGTERM, in-flight requests (uploads) get this long to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(60);

/// Binds the configured address and serves until SIGINT/SIGTERM.
pub async fn serve(config: Config) -> Result<(), BoxError> {
    crate::startup::log_config_summary(&config);
    // HTTPS when PYOCI_TLS_CERT/PYOCI_TLS_KEY are set; unusable files stop the start here.
    let tls = crate::tls::Tls::from_files(config.tls_cert.as_ref(), config.tls_key.as_ref())?;
    let address = SocketAddr::new(config.host, config.port);
    let listener = TcpListener::bind(address)
        .await
        .map_err(|err| format!("cannot listen on {address}: {err}"))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!("listening on {} ({scheme})", listener.local_addr()?);
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(config.header_timeout_secs))
        .max_headers(MAX_HEADERS)
        .max_buf_size(MAX_HEAD_BYTES);
    let tls = tls.map(|tls| crate::tls::TlsServer {
        tls,
        http: http.clone(),
        max_header_bytes: MAX_HEAD_BYTES as u32,
        handshake_timeout: Duration::from_secs(config.header_timeout_secs),
        idle_timeout: Duration::from_secs(config.header_timeout_secs),
    });
    // Metrics: one set, fed by the stack and served on PYOCI_METRICS_PORT.
    let metrics = pyoci_metrics::Metrics::new();
    crate::metrics_server::start(&config, metrics.clone()).await?;
    let settings = config.clone();
    let (service, caches) = crate::stack::build::<Incoming>(config, metrics)?;
    // Registry events: on PYOCI_EVENTS_PORT, dropping what the stack's caches hold.
    crate::events::start(&settings.events, settings.host, caches).await?;
    let connections = Connections::new();

    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let mut backoff = AcceptBackoff::default();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => {
                    backoff.reset();
                    accepted
                }
                Err(err) => {
                    // Most often out of file descriptors (EMFILE): the waiting connection
                    // stays queued, so accepting again at once would fail again at once.
                    let wait = backoff.next_wait();
                    tracing::warn!(error = %err, retry_in = ?wait, "accept failed");
                    tokio::select! {
                        () = tokio::time::sleep(wait) => continue,
                        () = &mut shutdown => break,
                    }
                }
            },
            () = &mut shutdown => break,
        };
        if let Some(tls) = &tls {
            let serve = tls
                .clone()
                .serve(stream, peer, service.clone(), connections.watcher());
            tokio::spawn(serve);
            continue;
        }
        let connection = http.serve_connection(
            TokioIo::new(stream),
            TowerToHyperService::new(service.clone()),
        );
        // HTTP/1: hyper's header read timeout already bounds an idle keep-alive connection.
        let connection = connections
            .watcher()
            .serve(connection, std::future::pending());
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
            }
        });
    }

    drop(listener);
    tracing::info!("shutting down: finishing requests in flight");
    tokio::select! {
        () = connections.shutdown() => tracing::info!("all requests finished"),
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("requests still running after {SHUTDOWN_GRACE:?}; stopping anyway");
        }
    }
    Ok(())
}

/// How long to wait after a failed accept: from 10 ms, doubling with each failure in a row
/// up to 1 s, so a lasting condition (no file descriptors left) neither spins the loop nor
/// floods the log, and a passing one costs little.
#[derive(Debug, Default)]
struct AcceptBackoff {
    failures: u32,
}

impl AcceptBackoff {
    const FIRST: Duration = Duration::from_millis(10);
    const MAX: Duration = Duration::from_secs(1);

    fn next_wait(&mut self) -> Duration {
        let wait = Self::FIRST.saturating_mul(1 << self.failures.min(16));
        self.failures = self.failures.saturating_add(1);
        wait.min(Self::MAX)
    }

    fn reset(&mut self) {
        self.failures = 0;
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {},
            _ = terminate.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_backoff_grows_to_a_second_and_resets() {
        let mut backoff = AcceptBackoff::default();
        let waits: Vec<_> = (0..10).map(|_| backoff.next_wait().as_millis()).collect();
        assert_eq!(waits, [10, 20, 40, 80, 160, 320, 640, 1000, 1000, 1000]);
        for _ in 0..100 {
            backoff.next_wait();
        }
        assert_eq!(backoff.next_wait(), Duration::from_secs(1));
        backoff.reset();
        assert_eq!(backoff.next_wait(), Duration::from_millis(10));
    }
}
