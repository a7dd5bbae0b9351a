//! The connections being served, and how each one is stopped gracefully: when the server
//! stops, and (HTTP/2) once it has been idle too long.
//!
//! hyper-util's `GracefulShutdown` does the first but only it may call a connection's
//! `graceful_shutdown`, so an idle limit could not stop the same connection; this is the same
//! watch channel with a second reason to stop.

use std::future::Future;

use hyper_util::server::graceful::GracefulConnection;
use tokio::sync::watch;

/// Every connection holds a [`Watcher`]; [`Connections::shutdown`] stops them all and waits.
pub struct Connections {
    stop: watch::Sender<()>,
}

/// One connection's share of [`Connections`]: the stop signal, and, by being held until the
/// connection ends, what the server waits for on shutdown.
pub struct Watcher {
    stop: watch::Receiver<()>,
}

impl Connections {
    pub fn new() -> Self {
        Connections {
            stop: watch::channel(()).0,
        }
    }

    /// A watcher for a connection about to be served; take it before the TLS handshake so a
    /// shutdown also waits for handshakes under way (each bounded in time).
    pub fn watcher(&self) -> Watcher {
        Watcher {
            stop: self.stop.subscribe(),
        }
    }

    /// Asks every connection to stop gracefully and waits until all have ended.
    pub async fn shutdown(self) {
        let _ = self.stop.send(());
        self.stop.closed().await;
    }
}

impl Watcher {
    /// Serves `connection` to its end. It is stopped gracefully (HTTP/2: GOAWAY, open streams
    /// finish; HTTP/1: closed after the response in progress) when the server stops or when
    /// `idle` completes; pass `std::future::pending()` for no idle limit.
    pub async fn serve<C>(mut self, connection: C, idle: impl Future<Output = ()>) -> C::Output
    where
        C: GracefulConnection,
    {
        tokio::pin!(connection);
        tokio::pin!(idle);
        let mut stopping = false;
        loop {
            tokio::select! {
                ended = connection.as_mut() => return ended,
                // An error means the sender is gone, which also only happens on shutdown.
                _ = self.stop.changed(), if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
                () = &mut idle, if !stopping => {
                    stopping = true;
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}
