//! `pyoci healthcheck`: asks the PyOCI running in this container (or on this host) for
//! `GET /health` and exits 0 when it answers 200, 1 otherwise. For a container `HEALTHCHECK`
//! in an image without a shell or curl. Reads `PORT` (default 8080) and `PYOCI_HOST` (an
//! unspecified address such as the default 0.0.0.0 means loopback); with `PYOCI_TLS_CERT`
//! set it only checks that the port accepts connections.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    process::ExitCode,
    time::Duration,
};

use crate::config::Config;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the check against the server `config` describes (`PORT`, `PYOCI_HOST`,
/// `PYOCI_TLS_CERT`, or their flags) and says what it found on stderr.
pub async fn run(config: &Config) -> ExitCode {
    let host = match config.host {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        specific => specific,
    };
    let tls = config.tls_cert.is_some();
    let address = SocketAddr::new(host, config.port);
    match tokio::time::timeout(TIMEOUT, check(address, tls)).await {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(reason)) => {
            eprintln!("unhealthy: {reason}");
            ExitCode::FAILURE
        }
        Err(_) => {
            eprintln!("unhealthy: no answer within {TIMEOUT:?}");
            ExitCode::FAILURE
        }
    }
}

async fn check(address: SocketAddr, tls: bool) -> Result<(), String> {
    let mut stream = TcpStream::connect(address)
        .await
        .map_err(|err| format!("cannot connect to {address}: {err}"))?;
    if tls {
        return Ok(());
    }
    stream
        .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .map_err(|err| format!("cannot send to {address}: {err}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .await
        .map_err(|err| format!("cannot read from {address}: {err}"))?;
    let status_line = answer.split(|&byte| byte == b'\n').next().unwrap_or(&[]);
    let status_line = String::from_utf8_lossy(status_line);
    if status_line.starts_with("HTTP/1.1 200") {
        Ok(())
    } else {
        Err(format!("GET /health answered {}", status_line.trim()))
    }
}
