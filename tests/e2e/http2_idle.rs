//! Idle HTTP/2 connections: PyOCI over TLS closes (GOAWAY) a connection that has had no open
//! stream for PYOCI_HEADER_TIMEOUT_SECS, though its client answers every ping, and never one
//! with a request in flight or a response body still being sent.
//!
//! The client is a raw h2 one, so the test sees the connection itself: whether it still
//! answers a ping, and whether the server sent a GOAWAY before it ended.

use std::{
    io,
    path::{Path, PathBuf},
    pin::Pin,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    task::{ready, Context, Poll},
    time::Duration,
};

use bytes::Bytes;
use h2::{client::SendRequest, Ping, PingPong};
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use pyoci_test_support::{make_certificates, Pyoci};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
    time::Instant,
};
use tokio_rustls::{
    rustls::{
        self,
        pki_types::{pem::PemObject, CertificateDer, ServerName},
        ClientConfig, RootCertStore,
    },
    TlsConnector,
};

/// PYOCI_HEADER_TIMEOUT_SECS in these tests.
const LIMIT: Duration = Duration::from_secs(2);
/// How late past the limit the close may come on a busy machine.
const SLACK: Duration = Duration::from_secs(8);

/// PyOCI over TLS with the short idle limit, and the CA its certificate comes from.
struct Server {
    pyoci: Pyoci,
    ca: PathBuf,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let ca = make_certificates(dir.path());
        let cert = dir.path().join("server.pem");
        let key = dir.path().join("server.key");
        let limit = LIMIT.as_secs().to_string();
        let pyoci = Pyoci::start(
            Path::new(env!("CARGO_BIN_EXE_pyoci")),
            &[
                ("PYOCI_TLS_CERT", cert.to_str().unwrap()),
                ("PYOCI_TLS_KEY", key.to_str().unwrap()),
                ("PYOCI_HEADER_TIMEOUT_SECS", &limit),
            ],
        );
        Server {
            pyoci,
            ca,
            _dir: dir,
        }
    }

    /// An HTTP/2 connection (ALPN h2); `window` is the client's initial stream window.
    async fn connect(&self, window: u32) -> Connection {
        let mut roots = RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_file(&self.ca).unwrap())
            .unwrap();
        // ring, as PyOCI's own TLS (src/tls): deprecated in rustls 0.23.48 for lacking
        // post-quantum key exchange, which this test of idle connections does not need.
        #[allow(deprecated)]
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let tcp = TcpStream::connect(("127.0.0.1", self.pyoci.port()))
            .await
            .unwrap();
        let started = Instant::now();
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let tls = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .unwrap();
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let goaway = Arc::new(AtomicBool::new(false));
        let tls = FrameSpy {
            inner: tls,
            header: Vec::new(),
            skip: 0,
            goaway: goaway.clone(),
        };
        let (send, mut connection) = h2::client::Builder::new()
            .initial_window_size(window)
            .handshake(tls)
            .await
            .unwrap();
        let ping = connection.ping_pong().unwrap();
        // Driven on its own, the connection also answers the server's pings.
        let ended = tokio::spawn(connection);
        Connection {
            send,
            ping,
            ended,
            goaway,
            started,
        }
    }

    fn log(&self) -> String {
        self.pyoci.log()
    }
}

struct Connection {
    /// Held for the whole test: with it dropped the client would close the connection itself.
    send: SendRequest<Bytes>,
    ping: PingPong,
    ended: JoinHandle<Result<(), h2::Error>>,
    /// Whether the server sent a GOAWAY frame.
    goaway: Arc<AtomicBool>,
    started: Instant,
}

impl Connection {
    /// Whether the connection is still open for requests: no GOAWAY (after one it only
    /// finishes the streams it has), not ended, and answering a ping of ours.
    async fn is_open(&mut self) -> bool {
        let pong = tokio::time::timeout(SLACK, self.ping.ping(Ping::opaque())).await;
        matches!(pong, Ok(Ok(_)))
            && !self.ended.is_finished()
            && !self.goaway.load(Ordering::SeqCst)
    }

    /// Sends a request without a body; the caller holds its stream open by keeping the
    /// response (future, or body once answered).
    async fn request(
        &self,
        request: http::Request<()>,
    ) -> (h2::client::ResponseFuture, h2::SendStream<Bytes>) {
        let mut send = self.send.clone().ready().await.unwrap();
        send.send_request(request, true).unwrap()
    }

    /// Waits for the connection to end, at most until `deadline`, and checks that the server
    /// ended it the graceful way, with a GOAWAY. How the client's side ends is a race of the
    /// two closing at once (a clean end, or a broken pipe on its last write), so not checked.
    async fn ended_by_goaway(self, deadline: Instant, log: impl Fn() -> String) -> Instant {
        let ended = tokio::time::timeout_at(deadline, self.ended)
            .await
            .unwrap_or_else(|_| panic!("the connection was not closed in time\n{}", log()));
        let ended_at = Instant::now();
        assert!(
            self.goaway.load(Ordering::SeqCst),
            "the connection ended without a GOAWAY ({ended:?})\n{}",
            log()
        );
        drop(self.send);
        ended_at
    }
}

/// The client's TLS stream, noting whether the server sent a GOAWAY: what it reads is a
/// sequence of HTTP/2 frames, each a 9-byte header (payload length in the first three
/// bytes, frame type in the fourth) and its payload.
struct FrameSpy<T> {
    inner: T,
    header: Vec<u8>,
    skip: usize,
    goaway: Arc<AtomicBool>,
}

impl<T> FrameSpy<T> {
    const GOAWAY: u8 = 0x7;

    fn see(&mut self, byte: u8) {
        if self.skip > 0 {
            self.skip -= 1;
            return;
        }
        self.header.push(byte);
        if let [a, b, c, kind, ..] = self.header[..] {
            if self.header.len() == 9 {
                if kind == Self::GOAWAY {
                    self.goaway.store(true, Ordering::SeqCst);
                }
                self.skip = u32::from_be_bytes([0, a, b, c]) as usize;
                self.header.clear();
            }
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for FrameSpy<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        for &byte in &buf.filled()[before..] {
            this.see(byte);
        }
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for FrameSpy<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn a_connection_without_streams_is_closed_with_goaway_after_the_limit() {
    let server = Server::start();
    runtime().block_on(async {
        let mut connection = server.connect(65_535).await;
        let started = connection.started;
        tokio::time::sleep(LIMIT / 2).await;
        assert!(
            connection.is_open().await,
            "closed before the limit\n{}",
            server.log()
        );
        let ended = connection
            .ended_by_goaway(started + LIMIT + SLACK, || server.log())
            .await;
        assert!(
            ended - started >= LIMIT,
            "closed after {:?}",
            ended - started
        );
    });
}

#[test]
fn a_request_waiting_for_the_registry_keeps_its_connection_open() {
    let server = Server::start();
    runtime().block_on(async {
        // A registry that takes connections and never answers: the request waits for it.
        let registry = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let registry_url = format!("http://{}", registry.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let held = {
            let accepted = accepted.clone();
            tokio::spawn(async move {
                let mut open = Vec::new();
                while let Ok((stream, _)) = registry.accept().await {
                    accepted.fetch_add(1, Ordering::SeqCst);
                    open.push(stream);
                }
            })
        };
        let mut connection = server.connect(65_535).await;
        let segment = utf8_percent_encode(&registry_url, NON_ALPHANUMERIC);
        let request = http::Request::get(format!(
            "https://127.0.0.1:{}/{segment}/idle/waiting/",
            server.pyoci.port()
        ))
        .body(())
        .unwrap();
        let (response, _) = connection.request(request).await;

        tokio::time::sleep(LIMIT * 3).await;
        assert!(
            accepted.load(Ordering::SeqCst) > 0,
            "PyOCI never asked the registry\n{}",
            server.log()
        );
        assert!(
            connection.is_open().await,
            "closed with a request in flight\n{}",
            server.log()
        );
        // The client gives up: the stream is reset, and the connection idle from then on.
        drop(response);
        let reset = Instant::now();
        let ended = connection
            .ended_by_goaway(reset + LIMIT + SLACK, || server.log())
            .await;
        assert!(
            ended - reset >= LIMIT,
            "closed {:?} after the reset",
            ended - reset
        );
        held.abort();
    });
}

#[test]
fn a_response_body_still_being_sent_keeps_its_connection_open() {
    let server = Server::start();
    runtime().block_on(async {
        // A stream window of 0: the answer's head arrives, its body cannot until the client
        // makes room, which it never does (a download the client reads slowly).
        let mut connection = server.connect(0).await;
        let request =
            http::Request::get(format!("https://127.0.0.1:{}/health", server.pyoci.port()))
                .body(())
                .unwrap();
        let (response, _) = connection.request(request).await;
        let response = response.await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body();
        assert!(!body.is_end_stream(), "the body must still be on its way");

        tokio::time::sleep(LIMIT * 3).await;
        assert!(
            connection.is_open().await,
            "closed with a response body being sent\n{}",
            server.log()
        );
        drop(body);
        let reset = Instant::now();
        let ended = connection
            .ended_by_goaway(reset + LIMIT + SLACK, || server.log())
            .await;
        assert!(
            ended - reset >= LIMIT,
            "closed {:?} after the reset",
            ended - reset
        );
    });
}
