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

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the check and says what it found on stderr.
pub async fn run() -> ExitCode {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".to_owned());
    let host = std::env::var("PYOCI_HOST")
        .ok()
        .and_then(|host| host.parse::<IpAddr>().ok())
        .map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |host| match host {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            specific => specific,
        });
    let Ok(port) = port.parse::<u16>() else {
        eprintln!("unhealthy: PORT={port} is not a port number");
        return ExitCode::FAILURE;
    };
    match tokio::time::timeout(TIMEOUT, check(SocketAddr::new(host, port))).await {
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

async fn check(address: SocketAddr) -> Result<(), String> {
    let mut stream = TcpStream::connect(address)
        .await
        .map_err(|err| format!("cannot connect to {address}: {err}"))?;
    if std::env::var_os("PYOCI_TLS_CERT").is_some_and(|cert| !cert.is_empty()) {
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
