//! `pyoci healthcheck`: asks the PyOCI running in this container (or on this host) for
//! `GET /health` and exits 0 when it answers 200, 1 otherwise. For a container `HEALTHCHECK`
//! in an image without a shell or curl. Reads `PORT` (default 8080) and connects to
//! 127.0.0.1; with `PYOCI_TLS_CERT` set it only checks that the port accepts connections.

use std::{process::ExitCode, time::Duration};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

const TIMEOUT: Duration = Duration::from_secs(5);

/// Runs the check and says what it found on stderr.
pub async fn run() -> ExitCode {
    let port = std::env::var("PORT").unwrap_or_else(|_| "8080".to_owned());
    match tokio::time::timeout(TIMEOUT, check(&port)).await {
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

async fn check(port: &str) -> Result<(), String> {
    let address = format!("127.0.0.1:{port}");
    let mut stream = TcpStream::connect(&address)
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
