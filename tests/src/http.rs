//! A plain HTTP/1.1 GET with a deadline, for the warning page and metrics.

use std::net::SocketAddr;

use anyhow::{Context, Result, anyhow};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::parapet::WAIT;

/// `GET path` on `addr` with `Host: host`; returns (status, body). The
/// whole exchange must finish within [`WAIT`].
pub async fn get(addr: SocketAddr, host: &str, path: &str) -> Result<(u16, String)> {
    let exchange = async {
        let mut stream = TcpStream::connect(addr).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        anyhow::Ok(String::from_utf8_lossy(&response).into_owned())
    };
    let response = tokio::time::timeout(WAIT, exchange)
        .await
        .map_err(|_| anyhow!("GET http://{addr}{path}: no answer within {WAIT:?}"))?
        .with_context(|| format!("GET http://{addr}{path}"))?;
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| anyhow!("GET http://{addr}{path}: not an HTTP response: {response:?}"))?;
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_string();
    Ok((status, body))
}
