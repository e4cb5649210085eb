//! Raw DNS over UDP for the limit tests: queries built byte for byte, sent
//! from a chosen source address, answers read with a deadline; and the
//! in-process metrics read by series.

use std::net::SocketAddr;

use anyhow::{Context, Result, anyhow};
use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};
use parapet_e2e::Parapet;
use parapet_e2e::parapet::WAIT;
use tokio::net::UdpSocket;

/// A query for `name`/`rtype` with `id`; EDNS offering `payload` bytes
/// when given.
pub fn query(id: u16, name: &str, rtype: RecordType, payload: Option<u16>) -> Result<Vec<u8>> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name)?, rtype));
    if let Some(p) = payload {
        let mut e = Edns::new();
        e.set_max_payload(p);
        m.set_edns(e);
    }
    Ok(m.to_vec()?)
}

/// A UDP socket on `ip`, port chosen by the system.
pub async fn socket(ip: &str) -> Result<UdpSocket> {
    UdpSocket::bind(format!("{ip}:0"))
        .await
        .with_context(|| format!("bind {ip}"))
}

/// Send `packet` to `server` from `socket` and return the answer's bytes
/// (fails after [`WAIT`]).
pub async fn ask(socket: &UdpSocket, server: SocketAddr, packet: &[u8]) -> Result<Vec<u8>> {
    socket.send_to(packet, server).await?;
    recv(socket).await
}

/// The next datagram on `socket`, within [`WAIT`].
pub async fn recv(socket: &UdpSocket) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; 65_535];
    let (len, _) = tokio::time::timeout(WAIT, socket.recv_from(&mut buf))
        .await
        .map_err(|_| anyhow!("no UDP answer within {WAIT:?}"))??;
    buf.truncate(len);
    Ok(buf)
}

/// Decode an answer.
pub fn decode(bytes: &[u8]) -> Result<Message> {
    Message::from_vec(bytes).context("undecodable answer")
}

/// The value of one metric series (`name{labels}` exactly as exported),
/// 0 when absent.
pub fn metric(p: &Parapet, series: &str) -> f64 {
    let text = p.server().metrics().encode();
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

/// `parapet_queries_total` over UDP with `outcome`.
pub fn udp_queries(p: &Parapet, outcome: &str) -> f64 {
    metric(
        p,
        &format!("parapet_queries_total{{protocol=\"udp\",outcome=\"{outcome}\"}}"),
    )
}

/// `parapet_ratelimit_actions_total` with `action` and `reason`.
pub fn ratelimit_actions(p: &Parapet, action: &str, reason: &str) -> f64 {
    metric(
        p,
        &format!("parapet_ratelimit_actions_total{{action=\"{action}\",reason=\"{reason}\"}}"),
    )
}
