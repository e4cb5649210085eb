//! A real authoritative DNS server on loopback (hickory `Server` + an
//! in-memory zone) that parapet forwards to, and a black hole that never
//! answers (an upstream that is down).

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use hickory_proto::rr::rdata::{A, AAAA, CNAME, MX, SOA, TXT};
use hickory_proto::rr::{LowerName, Name, RData, Record};
use hickory_server::Server;
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::store::in_memory::InMemoryZoneHandler;
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneHandler, ZoneType};
use tokio::net::{TcpListener, UdpSocket};
use tokio_util::sync::CancellationToken;

/// TTL of the test zone's records.
pub const ZONE_TTL: u32 = 300;
/// TTL (and SOA minimum) of the zone's negative answers.
pub const ZONE_NEGATIVE_TTL: u32 = 120;

/// The test zone, as `(name, data)`. The zone is the root, so any name can
/// be served. Names and what the default lists (see [`crate::lists`]) do
/// with them:
///
/// | name | records | default lists |
/// |---|---|---|
/// | `www.example` | A 192.0.2.10, AAAA 2001:db8::10 | not listed |
/// | `alias.example` | CNAME www.example | not listed |
/// | `txt.example` | TXT "hello parapet" | not listed |
/// | `example` | MX 10 mail.example | not listed |
/// | `phishing.example` (+`www.`, TXT) | A 192.0.2.66 | blocked (phishing) |
/// | `safe.phishing.example` | A 192.0.2.69 | allow rule |
/// | `notphishing.example` | A 192.0.2.68 | look-alike, not blocked |
/// | `cloaked.example` | CNAME phishing.example | CNAME into a blocked name |
/// | `flux.example` | A 192.0.2.70, A 203.0.113.66 | answer holds a blocked IP |
/// | `flux6.example` | AAAA 2001:db8:bad::1 | answer holds a blocked IPv6 |
/// | `ipchain.example` | CNAME `ipchain-hop.example` CNAME `ipchain-end.example` (A 203.0.113.66, AAAA 2001:db8:bad::2) | CNAME chain ending at blocked IPs |
/// | `malware.test` | A 192.0.2.99 | blocked (malware) |
/// | `newthreat.example` | A 192.0.2.100 | not listed (tests add it) |
/// | `big.example` | 10 × TXT, ~900 bytes | not listed (truncation) |
pub fn test_zone() -> Vec<Record> {
    fn n(s: &str) -> Name {
        Name::from_str(s).unwrap_or_else(|e| panic!("bad test name {s}: {e}"))
    }
    fn a(s: &str, ip: [u8; 4]) -> Record {
        Record::from_rdata(n(s), ZONE_TTL, RData::A(A(Ipv4Addr::from(ip))))
    }
    fn aaaa(s: &str, ip: &str) -> Record {
        let ip: Ipv6Addr = ip.parse().unwrap_or_else(|e| panic!("{ip}: {e}"));
        Record::from_rdata(n(s), ZONE_TTL, RData::AAAA(AAAA(ip)))
    }
    fn cname(s: &str, t: &str) -> Record {
        Record::from_rdata(n(s), ZONE_TTL, RData::CNAME(CNAME(n(t))))
    }
    let mut zone = vec![
        a("www.example.", [192, 0, 2, 10]),
        aaaa("www.example.", "2001:db8::10"),
        cname("alias.example.", "www.example."),
        Record::from_rdata(
            n("txt.example."),
            ZONE_TTL,
            RData::TXT(TXT::new(vec!["hello parapet".into()])),
        ),
        Record::from_rdata(
            n("example."),
            ZONE_TTL,
            RData::MX(MX::new(10, n("mail.example."))),
        ),
        a("mail.example.", [192, 0, 2, 25]),
        a("phishing.example.", [192, 0, 2, 66]),
        aaaa("phishing.example.", "2001:db8::66"),
        Record::from_rdata(
            n("phishing.example."),
            ZONE_TTL,
            RData::TXT(TXT::new(vec!["real phishing txt".into()])),
        ),
        a("www.phishing.example.", [192, 0, 2, 67]),
        a("login.www.phishing.example.", [192, 0, 2, 67]),
        a("notphishing.example.", [192, 0, 2, 68]),
        a("safe.phishing.example.", [192, 0, 2, 69]),
        cname("cloaked.example.", "phishing.example."),
        a("flux.example.", [192, 0, 2, 70]),
        a("flux.example.", [203, 0, 113, 66]),
        aaaa("flux6.example.", "2001:db8:bad::1"),
        cname("ipchain.example.", "ipchain-hop.example."),
        cname("ipchain-hop.example.", "ipchain-end.example."),
        a("ipchain-end.example.", [203, 0, 113, 66]),
        aaaa("ipchain-end.example.", "2001:db8:bad::2"),
        a("malware.test.", [192, 0, 2, 99]),
        a("newthreat.example.", [192, 0, 2, 100]),
    ];
    // big.example: ten TXT records, ~900 bytes: more than 512, less than 1232.
    for i in 0..10 {
        zone.push(Record::from_rdata(
            n("big.example."),
            ZONE_TTL,
            RData::TXT(TXT::new(vec![format!("{i:02} {}", "x".repeat(70))])),
        ));
    }
    zone
}

/// An authoritative server for [`test_zone`] on `127.0.0.1`, UDP and TCP on
/// the same port. Stops when dropped.
pub struct Upstream {
    addr: SocketAddr,
    queries: Arc<AtomicU64>,
    shutdown: CancellationToken,
}

/// Counts queries, then hands them to the catalog.
struct Counting {
    catalog: Catalog,
    queries: Arc<AtomicU64>,
}

#[async_trait::async_trait]
impl RequestHandler for Counting {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        self.queries.fetch_add(1, Ordering::SeqCst);
        self.catalog
            .handle_request::<R, T>(request, response_handle)
            .await
    }
}

impl Upstream {
    /// Serve [`test_zone`].
    pub async fn start() -> Upstream {
        Self::with_records(test_zone()).await
    }

    /// Serve the given records (plus an SOA at the root).
    pub async fn with_records(records: Vec<Record>) -> Upstream {
        let root = Name::root();
        let mut zone =
            InMemoryZoneHandler::<hickory_server::net::runtime::TokioRuntimeProvider>::empty(
                root.clone(),
                ZoneType::Primary,
                AxfrPolicy::Deny,
            );
        let soa = SOA::new(
            Name::from_str("ns.upstream.test.").expect("name"),
            Name::from_str("hostmaster.upstream.test.").expect("name"),
            1,
            3600,
            600,
            86_400,
            ZONE_NEGATIVE_TTL,
        );
        zone.upsert_mut(
            Record::from_rdata(root.clone(), ZONE_NEGATIVE_TTL, RData::SOA(soa)),
            1,
        );
        for r in records {
            zone.upsert_mut(r, 1);
        }
        let mut catalog = Catalog::new();
        let handler: Arc<dyn ZoneHandler> = Arc::new(zone);
        catalog.upsert(LowerName::new(&root), vec![handler]);
        let queries = Arc::new(AtomicU64::new(0));
        let mut server = Server::new(Counting {
            catalog,
            queries: queries.clone(),
        });
        let (udp, tcp) = bind_pair().await;
        let addr = udp.local_addr().expect("local addr");
        server.register_socket(udp);
        server.register_listener(tcp, std::time::Duration::from_secs(5), 16);
        let shutdown = CancellationToken::new();
        let token = shutdown.clone();
        tokio::spawn(async move {
            token.cancelled().await;
            let _ = server.shutdown_gracefully().await;
        });
        Upstream {
            addr,
            queries,
            shutdown,
        }
    }

    /// Address (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Queries received so far.
    pub fn queries(&self) -> u64 {
        self.queries.load(Ordering::SeqCst)
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// An upstream that is down: sockets bound on loopback that receive and
/// never answer, so queries to it time out.
pub struct Blackhole {
    addr: SocketAddr,
    _udp: UdpSocket,
    _tcp: TcpListener,
}

impl Blackhole {
    /// Bind it.
    pub async fn start() -> Blackhole {
        let (udp, tcp) = bind_pair().await;
        Blackhole {
            addr: udp.local_addr().expect("local addr"),
            _udp: udp,
            _tcp: tcp,
        }
    }

    /// Address (UDP and TCP).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

/// UDP and TCP bound on the same free loopback port.
pub async fn bind_pair() -> (UdpSocket, TcpListener) {
    parapet_test_support::ports::bind_pair(std::net::Ipv4Addr::LOCALHOST.into())
        .await
        .expect("UDP and TCP on one free loopback port")
}
