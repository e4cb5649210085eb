//! parapet's own upstream client, on hickory-proto for the messages: a
//! pool of connected UDP sockets ([`udp`]), pipelined TCP and
//! DNS-over-TLS connections ([`stream`]), DNS over HTTPS on HTTP/2
//! ([`https`]), and the choice of upstream with deadline and retry
//! ([`select`], [`Upstreams::exchange`]).
//!
//! Each transport exchanges one encoded query for one encoded answer.
//! [`Upstreams::exchange`] sends a query to the best upstream (smoothed
//! RTT and health, see [`select`]), retries on another (or the same one,
//! alone) when no answer came within a few SRTTs or the upstream failed,
//! keeps every attempt's answer welcome until the deadline
//! (`[upstream] timeout_ms`), and makes at most `[upstream] attempts`
//! attempts in all. A plain upstream's UDP answer with TC is asked again
//! over TCP. An answer is accepted only when its ID and question match
//! the query's; SERVFAIL, REFUSED, FORMERR and NOTIMP count as a failed
//! attempt (the next attempt may do better), and are returned only when
//! no attempt did better.

mod error;
pub mod https;
mod metrics;
pub mod select;
pub mod stream;
pub mod udp;
pub mod wire;

pub use error::ExchangeError;
pub use metrics::ClientMetrics;
pub use stream::load_roots;

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use rustls_pki_types::ServerName;

use crate::config::{UpstreamConfig, UpstreamProtocol, UpstreamServer};
use https::HttpsUpstream;
use stream::StreamUpstream;
use udp::UdpPool;

/// How one upstream is reached.
#[derive(Debug)]
enum Transport {
    /// UDP from the pool; TCP when an answer is truncated.
    Plain { udp: UdpPool, tcp: StreamUpstream },
    /// TCP or DNS over TLS only.
    Stream(StreamUpstream),
    /// DNS over HTTPS.
    Https(HttpsUpstream),
}

/// One configured upstream.
#[derive(Debug)]
struct Endpoint {
    transport: Transport,
    /// Its AD bit is passed on (`[upstream] trusted`).
    trusted: bool,
}

/// An answer from an upstream, as bytes, the query's ID restored.
#[derive(Debug)]
pub struct Answer {
    /// The whole message as the upstream sent it (its question's case
    /// restored to the query's when 0x20 was used).
    pub bytes: Vec<u8>,
    /// The upstream is marked trusted: its AD bit may be passed on.
    pub trusted: bool,
}

/// Every configured upstream, with the health table that chooses among
/// them.
#[derive(Debug)]
pub struct Upstreams {
    endpoints: Vec<Endpoint>,
    table: select::Table,
    timeout: Duration,
    attempts: usize,
    randomize_case: bool,
    metrics: Arc<ClientMetrics>,
}

impl Upstreams {
    /// The upstreams of `[upstream]`.
    ///
    /// # Errors
    /// The CA file cannot be read, or a TLS name is not a valid name.
    pub fn new(config: &UpstreamConfig, metrics: Arc<ClientMetrics>) -> Result<Upstreams, String> {
        let needs_tls = config
            .servers
            .iter()
            .any(|s| s.protocol != UpstreamProtocol::Plain);
        let tls = if needs_tls {
            Some(stream::client_config(config.ca_file.as_deref())?)
        } else {
            None
        };
        let endpoints = config
            .servers
            .iter()
            .map(|s| endpoint(s, config, tls.as_ref(), &metrics))
            .collect::<Result<_, _>>()?;
        Ok(Upstreams {
            endpoints,
            table: select::Table::new(config.servers.len()),
            timeout: config.timeout(),
            attempts: config.attempts.max(1),
            randomize_case: config.randomize_case,
            metrics,
        })
    }

    /// The metrics shared by the pools.
    pub fn metrics(&self) -> &Arc<ClientMetrics> {
        &self.metrics
    }

    /// UDP sockets open now, over every upstream.
    pub fn open_sockets(&self) -> usize {
        self.endpoints
            .iter()
            .map(|e| match &e.transport {
                Transport::Plain { udp, .. } => udp.open_sockets(),
                _ => 0,
            })
            .sum()
    }

    /// Send `query` (one question, encoded) and return the first usable
    /// answer within the deadline; see the module documentation.
    ///
    /// # Errors
    /// [`ExchangeError::Timeout`] when nothing came in time, else the last
    /// attempt's error.
    pub async fn exchange(&self, query: &[u8]) -> Result<Answer, ExchangeError> {
        let deadline = Instant::now() + self.timeout;
        let mut running = FuturesUnordered::new();
        let mut waiting: Vec<usize> = Vec::with_capacity(self.attempts);
        let mut tried: Vec<usize> = Vec::with_capacity(self.attempts);
        let mut outcome = Outcome::default();
        for attempt in 0..self.attempts {
            let explore = self.endpoints.len() > 1 && rand::random_ratio(1, select::EXPLORE_ONE_IN);
            let i = self.table.pick(&tried, explore);
            tried.push(i);
            waiting.push(i);
            running.push(self.attempt(i, query));
            let left = u32::try_from(self.attempts - attempt).unwrap_or(u32::MAX);
            let now = Instant::now();
            let until = if left == 1 {
                deadline
            } else {
                now + (deadline.saturating_duration_since(now) / left)
                    .min(self.table.retry_after(i))
            };
            if let Some(answer) = self
                .collect(&mut running, &mut waiting, until, &mut outcome)
                .await
            {
                return Ok(answer);
            }
            if Instant::now() >= deadline {
                break;
            }
        }
        if let Some(answer) = self
            .collect(&mut running, &mut waiting, deadline, &mut outcome)
            .await
        {
            return Ok(answer);
        }
        for i in waiting {
            self.table.failed(i);
        }
        outcome.finish()
    }

    /// Take attempts' results until a usable answer (returned), every
    /// attempt is done, or `until`.
    async fn collect<F>(
        &self,
        running: &mut FuturesUnordered<F>,
        waiting: &mut Vec<usize>,
        until: Instant,
        outcome: &mut Outcome,
    ) -> Option<Answer>
    where
        F: Future<Output = (usize, Instant, Result<Vec<u8>, ExchangeError>)>,
    {
        let sleep = tokio::time::sleep_until(until.into());
        tokio::pin!(sleep);
        while !running.is_empty() {
            let (i, sent, result) = tokio::select! {
                Some(done) = running.next() => done,
                () = &mut sleep => return None,
            };
            if let Some(at) = waiting.iter().position(|&w| w == i) {
                waiting.swap_remove(at);
            }
            match result {
                Ok(bytes) => {
                    self.table.answered(i, sent.elapsed());
                    let answer = Answer {
                        bytes,
                        trusted: self.endpoints[i].trusted,
                    };
                    if usable(&answer.bytes) {
                        return Some(answer);
                    }
                    outcome.refusal = Some(answer);
                }
                Err(e) => {
                    self.table.failed(i);
                    outcome.error = Some(e);
                }
            }
        }
        None
    }

    /// One attempt on upstream `i`: its index, when it was sent, and what
    /// came back (an answer to this very question, or why not).
    async fn attempt(
        &self,
        i: usize,
        query: &[u8],
    ) -> (usize, Instant, Result<Vec<u8>, ExchangeError>) {
        let sent = Instant::now();
        let result = self.endpoints[i]
            .exchange(query, self.randomize_case)
            .await
            .and_then(|answer| {
                let question = wire::question(query).unwrap_or_default();
                if answer.get(..2) != query.get(..2) || !wire::answers(&answer, question, false) {
                    return Err(ExchangeError::Malformed(
                        "the answer's ID or question is not the query's".into(),
                    ));
                }
                Ok(answer)
            });
        (i, sent, result)
    }
}

impl Endpoint {
    async fn exchange(&self, query: &[u8], randomize_case: bool) -> Result<Vec<u8>, ExchangeError> {
        match &self.transport {
            Transport::Plain { udp, tcp } => {
                let answer = if randomize_case {
                    let mut mixed = query.to_vec();
                    wire::randomize_case(&mut mixed);
                    let mut answer = udp.exchange(&mixed, true).await?;
                    // The question back in the query's case (names
                    // compressed against it follow).
                    if let Some(q) = wire::question(query) {
                        answer[12..12 + q.len()].copy_from_slice(q);
                    }
                    answer
                } else {
                    udp.exchange(query, false).await?
                };
                if wire::truncated(&answer) {
                    tcp.exchange(query).await
                } else {
                    Ok(answer)
                }
            }
            Transport::Stream(s) => s.exchange(query).await,
            Transport::Https(h) => h.exchange(query).await,
        }
    }
}

/// What the failed attempts of one exchange left.
#[derive(Default)]
struct Outcome {
    /// An answer that refused or failed (SERVFAIL, REFUSED, ...).
    refusal: Option<Answer>,
    error: Option<ExchangeError>,
}

impl Outcome {
    fn finish(self) -> Result<Answer, ExchangeError> {
        match (self.refusal, self.error) {
            (Some(answer), _) => Ok(answer),
            (None, Some(e)) => Err(e),
            (None, None) => Err(ExchangeError::Timeout),
        }
    }
}

/// NOERROR or NXDOMAIN: an answer worth relaying. The others (FORMERR,
/// SERVFAIL, NOTIMP, REFUSED, ...) are worth another attempt.
fn usable(answer: &[u8]) -> bool {
    matches!(wire::rcode(answer), 0 | 3)
}

fn endpoint(
    server: &UpstreamServer,
    config: &UpstreamConfig,
    tls: Option<&Arc<rustls::ClientConfig>>,
    metrics: &Arc<ClientMetrics>,
) -> Result<Endpoint, String> {
    let name = |n: &str| {
        ServerName::try_from(n.to_string())
            .map_err(|e| format!("{server}: bad TLS name {n:?}: {e}"))
    };
    let transport = match (&server.protocol, tls) {
        (UpstreamProtocol::Plain, _) => Transport::Plain {
            udp: UdpPool::new(server.addr, Arc::clone(metrics)),
            tcp: StreamUpstream::tcp(server.addr),
        },
        (UpstreamProtocol::Tls { server_name }, Some(tls)) => Transport::Stream(
            StreamUpstream::tls(server.addr, name(server_name)?, Arc::clone(tls)),
        ),
        (UpstreamProtocol::Https { server_name, path }, Some(tls)) => Transport::Https(
            HttpsUpstream::new(server.addr, name(server_name)?, path, Arc::clone(tls)),
        ),
        (_, None) => return Err(format!("{server}: no TLS configuration")),
    };
    Ok(Endpoint {
        transport,
        trusted: config.trusted.contains(server),
    })
}

#[cfg(test)]
mod tests;
