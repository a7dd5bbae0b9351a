//! A small forward proxy on loopback, as `HTTP_PROXY`/`HTTPS_PROXY` would name: `CONNECT
//! host:port` tunnels and absolute-form `GET http://host:port/...` requests. It records every
//! target it was asked for, so a test can tell whether a request went through it, and it
//! connects only to loopback addresses.

use std::{
    io::{self, Read, Write},
    net::{Shutdown, TcpListener, TcpStream, ToSocketAddrs},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    thread,
    time::Duration,
};

/// A running forward proxy; it stops accepting when dropped.
pub struct ForwardProxy {
    port: u16,
    targets: Arc<Mutex<Vec<String>>>,
    stopped: Arc<AtomicBool>,
}

impl ForwardProxy {
    /// Starts the proxy on a free 127.0.0.1 port.
    pub fn start() -> ForwardProxy {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .unwrap_or_else(|err| panic!("cannot bind the forward proxy's port: {err}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|err| panic!("the forward proxy's listener has no address: {err}"))
            .port();
        let targets = Arc::new(Mutex::new(Vec::new()));
        let stopped = Arc::new(AtomicBool::new(false));
        let (seen, stop) = (targets.clone(), stopped.clone());
        thread::Builder::new()
            .name(format!("forward-proxy-{port}"))
            .spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let seen = seen.clone();
                    thread::spawn(move || serve(stream, &seen));
                }
            })
            .unwrap_or_else(|err| panic!("cannot start the forward proxy thread: {err}"));
        ForwardProxy {
            port,
            targets,
            stopped,
        }
    }

    /// `http://127.0.0.1:PORT`, the value for `HTTP_PROXY`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every `host:port` a client asked the proxy for, oldest first.
    pub fn targets(&self) -> Vec<String> {
        self.targets.lock().map(|t| t.clone()).unwrap_or_default()
    }
}

impl Drop for ForwardProxy {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn serve(mut client: TcpStream, seen: &Mutex<Vec<String>>) {
    let _ = client.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(head) = read_head(&mut client) else {
        return;
    };
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut request_line = text.lines().next().unwrap_or_default().split(' ');
    let (method, target) = (
        request_line.next().unwrap_or_default(),
        request_line.next().unwrap_or_default(),
    );
    let (authority, forwarded_head) = if method == "CONNECT" {
        (target.to_owned(), None)
    } else {
        // `GET http://host:port/path HTTP/1.1` -> `GET /path HTTP/1.1` to host:port.
        let Some(rest) = target.strip_prefix("http://") else {
            let _ = client.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
            return;
        };
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let path = if path.is_empty() { "/" } else { path };
        let rewritten = text.replacen(target, path, 1);
        (authority.to_owned(), Some(rewritten.into_bytes()))
    };
    if let Ok(mut targets) = seen.lock() {
        targets.push(authority.clone());
    }
    let Some(mut upstream) = connect_loopback(&authority) else {
        let _ = client.write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    match forwarded_head {
        None => {
            if client
                .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                .is_err()
            {
                return;
            }
        }
        Some(head) => {
            if upstream.write_all(&head).is_err() {
                return;
            }
        }
    }
    pipe(client, upstream);
}

/// Reads up to the end of the request head (`\r\n\r\n`), one byte at a time so that
/// nothing after it is consumed.
fn read_head(stream: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte)? == 0 || head.len() > 64 * 1024 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        head.push(byte[0]);
    }
    Ok(head)
}

/// Connects to `host:port` if every address it names is loopback (tests never leave it).
fn connect_loopback(authority: &str) -> Option<TcpStream> {
    let addresses: Vec<_> = authority.to_socket_addrs().ok()?.collect();
    if addresses.is_empty() || !addresses.iter().all(|a| a.ip().is_loopback()) {
        return None;
    }
    addresses
        .iter()
        .find_map(|address| TcpStream::connect_timeout(address, Duration::from_secs(5)).ok())
}

/// Copies both ways until either side closes.
fn pipe(client: TcpStream, upstream: TcpStream) {
    let (Ok(mut client_reader), Ok(mut upstream_writer)) =
        (client.try_clone(), upstream.try_clone())
    else {
        return;
    };
    let up = thread::spawn(move || {
        let _ = io::copy(&mut client_reader, &mut upstream_writer);
        let _ = upstream_writer.shutdown(Shutdown::Write);
    });
    let (mut upstream_reader, mut client_writer) = (upstream, client);
    let _ = io::copy(&mut upstream_reader, &mut client_writer);
    let _ = client_writer.shutdown(Shutdown::Both);
    let _ = up.join();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A server answering every connection's first request with its request line.
    fn echo_server() -> u16 {
        let listener = TcpListener::bind(("127.0.0.1", 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let Ok(head) = read_head(&mut stream) else {
                    continue;
                };
                let line = String::from_utf8_lossy(&head)
                    .lines()
                    .next()
                    .unwrap()
                    .to_owned();
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{line}",
                    line.len()
                );
                let _ = stream.write_all(answer.as_bytes());
            }
        });
        port
    }

    fn exchange(proxy: &ForwardProxy, request: &str) -> String {
        let mut stream = TcpStream::connect(("127.0.0.1", proxy.port)).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    }

    #[test]
    fn forwards_absolute_form_requests_and_tunnels_connect() {
        let port = echo_server();
        let proxy = ForwardProxy::start();
        let answer = exchange(
            &proxy,
            &format!("GET http://127.0.0.1:{port}/v2/ HTTP/1.1\r\nHost: x\r\n\r\n"),
        );
        assert!(answer.ends_with("GET /v2/ HTTP/1.1"), "{answer}");

        let answer = exchange(
            &proxy,
            &format!(
                "CONNECT localhost:{port} HTTP/1.1\r\n\r\nGET /tunnelled HTTP/1.1\r\nHost: x\r\n\r\n"
            ),
        );
        assert!(
            answer.starts_with("HTTP/1.1 200 Connection Established")
                && answer.ends_with("GET /tunnelled HTTP/1.1"),
            "{answer}"
        );
        assert_eq!(
            proxy.targets(),
            [format!("127.0.0.1:{port}"), format!("localhost:{port}")]
        );
    }

    #[test]
    fn refuses_anything_but_loopback() {
        let proxy = ForwardProxy::start();
        let answer = exchange(&proxy, "CONNECT 192.0.2.1:443 HTTP/1.1\r\n\r\n");
        assert!(answer.starts_with("HTTP/1.1 502"), "{answer}");
    }
}
