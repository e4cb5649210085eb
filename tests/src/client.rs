//! DNS clients for tests: hickory's client over UDP and TCP, and raw
//! datagrams for hostile input.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use hickory_proto::op::{DnsRequest, DnsRequestOptions, Edns, Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use hickory_resolver::net::client::Client;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::tcp::TcpClientStream;
use hickory_resolver::net::udp::UdpClientStream;
use hickory_resolver::net::xfer::DnsHandle;
use parapet_resolver::answer;
use tokio_stream_shim::next_response;

/// Default client timeout: generous for a loaded CI machine.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// Transport for a test query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
}

/// How to send a query.
#[derive(Debug, Clone)]
pub struct QueryOptions {
    /// UDP or TCP.
    pub transport: Transport,
    /// Send an OPT record (EDNS0).
    pub edns: bool,
    /// Source address to send from (e.g. `127.0.0.2:0` to be another client).
    pub bind: Option<SocketAddr>,
    /// Give up after this long.
    pub timeout: Duration,
    /// Set the EDNS DO bit (DNSSEC OK; needs `edns`).
    pub dnssec_ok: bool,
    /// Set the CD bit (checking disabled).
    pub checking_disabled: bool,
    /// Set the AD bit (the client understands AD, RFC 6840 §5.7).
    pub authentic_data: bool,
}

impl Default for QueryOptions {
    fn default() -> Self {
        QueryOptions {
            transport: Transport::Udp,
            edns: true,
            bind: None,
            timeout: CLIENT_TIMEOUT,
            dnssec_ok: false,
            checking_disabled: false,
            authentic_data: false,
        }
    }
}

impl QueryOptions {
    /// UDP without an OPT record: a plain 512-byte client.
    pub fn without_edns() -> Self {
        QueryOptions {
            edns: false,
            ..QueryOptions::default()
        }
    }
}

/// Send one query with hickory's client and return the response message.
pub async fn query(
    server: SocketAddr,
    name: &str,
    rtype: RecordType,
    opts: &QueryOptions,
) -> Result<Message> {
    let name = Name::from_str(name).with_context(|| format!("bad name {name}"))?;
    let mut message = Message::query();
    message.add_query(Query::query(name, rtype));
    message.metadata.recursion_desired = true;
    message.metadata.checking_disabled = opts.checking_disabled;
    message.metadata.authentic_data = opts.authentic_data;
    if opts.edns {
        let mut edns = Edns::new();
        edns.set_max_payload(1232);
        edns.set_dnssec_ok(opts.dnssec_ok);
        message.set_edns(edns);
    }
    let mut options = DnsRequestOptions::default();
    options.use_edns = opts.edns;
    options.edns_set_dnssec_ok = opts.dnssec_ok;
    options.recursion_desired = true;
    let request = DnsRequest::new(message, options);
    let provider = TokioRuntimeProvider::default();
    let fut = async {
        match opts.transport {
            Transport::Udp => {
                let stream = UdpClientStream::builder(server, provider)
                    .with_timeout(Some(opts.timeout))
                    .with_bind_addr(opts.bind)
                    .build();
                let (client, bg) = Client::<TokioRuntimeProvider>::from_sender(stream);
                tokio::spawn(bg);
                next_response(client.send(request)).await
            }
            Transport::Tcp => {
                let (connect, sender) =
                    TcpClientStream::new(server, opts.bind, Some(opts.timeout), provider);
                let stream = connect
                    .await
                    .map_err(|e| anyhow!("tcp connect to {server}: {e}"))?;
                let (client, bg) =
                    Client::<TokioRuntimeProvider>::with_timeout(stream, sender, opts.timeout);
                tokio::spawn(bg);
                next_response(client.send(request)).await
            }
        }
    };
    tokio::time::timeout(opts.timeout + Duration::from_secs(1), fut)
        .await
        .map_err(|_| anyhow!("no answer from {server} within {:?}", opts.timeout))?
}

/// The A/AAAA addresses in a response's answer section, as text.
pub fn addresses(msg: &Message) -> Vec<String> {
    msg.answers
        .iter()
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string()),
            RData::AAAA(a) => Some(a.0.to_string()),
            _ => None,
        })
        .collect()
}

/// The Extended DNS Error of a response: (INFO-CODE, EXTRA-TEXT).
pub fn ede(msg: &Message) -> Option<(u16, String)> {
    answer::read_ede(msg.edns.as_ref()?)
}

/// True when the response has an SOA in the authority section.
pub fn has_soa(msg: &Message) -> bool {
    msg.authorities
        .iter()
        .any(|r| r.record_type() == RecordType::SOA)
}

/// The response code.
pub fn rcode(msg: &Message) -> ResponseCode {
    msg.metadata.response_code
}

/// Send raw bytes as one UDP datagram (no answer expected).
pub async fn send_raw(server: SocketAddr, bytes: &[u8]) -> Result<()> {
    let sock = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    sock.send_to(bytes, server).await?;
    Ok(())
}

mod tokio_stream_shim {
    use anyhow::{Result, anyhow};
    use futures_util::StreamExt;
    use hickory_proto::op::Message;

    /// First response of a hickory response stream, as a plain message.
    pub async fn next_response<S, E>(mut stream: S) -> Result<Message>
    where
        S: futures_util::Stream<Item = Result<hickory_proto::op::DnsResponse, E>> + Unpin,
        E: std::fmt::Display,
    {
        match stream.next().await {
            Some(Ok(resp)) => Ok(resp.into_message()),
            Some(Err(e)) => Err(anyhow!("query failed: {e}")),
            None => Err(anyhow!("no response")),
        }
    }
}
