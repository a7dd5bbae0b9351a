//! One TLS connection: the handshake (bounded in time), then HTTP/2 or HTTP/1.1 as ALPN
//! chose, watched for a graceful stop like a plain connection. An HTTP/2 connection is also
//! stopped (GOAWAY) once it has had no open stream for `PYOCI_HEADER_TIMEOUT_SECS`, the idle
//! limit HTTP/1 connections get from hyper's header read timeout.

use std::{future::pending, net::SocketAddr, time::Duration};

use hyper::{
    body::Incoming,
    server::conn::{http1, http2},
};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use tokio::net::TcpStream;

use super::Tls;
use crate::{
    connections::Watcher,
    idle::{CountStreams, OpenStreams},
    stack::PyociService,
};

/// Serves accepted connections over TLS. `http` is the HTTP/1 builder plain connections
/// use; HTTP/2 gets the same header bound. A handshake that takes longer than
/// `handshake_timeout` (PYOCI_HEADER_TIMEOUT_SECS) ends the connection; so does, over HTTP/2,
/// being `idle_timeout` (the same setting) without an open stream.
#[derive(Clone)]
pub struct TlsServer {
    pub tls: Tls,
    pub http: http1::Builder,
    pub max_header_bytes: u32,
    pub handshake_timeout: Duration,
    pub idle_timeout: Duration,
}

impl TlsServer {
    /// Serves one accepted connection until it ends, watched by `watcher` for a graceful stop.
    pub async fn serve(
        self,
        stream: TcpStream,
        peer: SocketAddr,
        service: PyociService<Incoming>,
        watcher: Watcher,
    ) {
        let accept = self.tls.acceptor.accept(stream);
        let stream = match tokio::time::timeout(self.handshake_timeout, accept).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(err)) => {
                tracing::debug!(%peer, error = %err, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%peer, "TLS handshake timed out");
                return;
            }
        };
        let h2 = stream.get_ref().1.alpn_protocol() == Some(b"h2");
        let io = TokioIo::new(stream);
        let result = if h2 {
            let mut builder = http2::Builder::new(TokioExecutor::new());
            // Pings find peers that went away without closing (HTTP/2 has no idle timeout of
            // its own in hyper); PYOCI_HEADER_TIMEOUT_SECS bounds the wait for the answer.
            builder
                .timer(TokioTimer::new())
                .max_header_list_size(self.max_header_bytes)
                .keep_alive_interval(Some(self.handshake_timeout))
                .keep_alive_timeout(self.handshake_timeout);
            let streams = OpenStreams::new();
            let service = TowerToHyperService::new(CountStreams::new(service, streams.clone()));
            let idle = streams.idle_for(self.idle_timeout);
            watcher
                .serve(builder.serve_connection(io, service), idle)
                .await
        } else {
            let service = TowerToHyperService::new(service);
            watcher
                .serve(self.http.serve_connection(io, service), pending())
                .await
        };
        if let Err(err) = result {
            tracing::debug!(%peer, error = %err, "connection ended with an error");
        }
    }
}
