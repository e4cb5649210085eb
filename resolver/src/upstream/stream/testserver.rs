//! Small scripted upstreams on loopback for the transport tests: a TCP or
//! TLS listener that counts the connections it accepts and serves each
//! with a script, and the TLS material (a test certificate, the server
//! config, the client config from a CA file) for DoT and DoH.

use std::net::SocketAddr;
use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};
use std::time::Duration;

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RData, Record, RecordType, rdata::A};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::transport::testutil::{TestCert, write_pair};

/// Longest any step of a test may wait.
pub(crate) const DEADLINE: Duration = Duration::from_secs(10);

/// The name in the test certificate.
pub(crate) const HOST: &str = "upstream.example.org";

/// A byte stream the scripts read and write.
pub(crate) trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// A boxed connection handed to a script.
pub(crate) type Stream = Box<dyn Io>;

/// A test certificate, a server config offering `alpn`, and the client
/// config [`super::client_config`] builds from the certificate as CA file.
pub(crate) struct Tls {
    _dir: tempfile::TempDir,
    pub(crate) server: Arc<rustls::ServerConfig>,
    pub(crate) client: Arc<rustls::ClientConfig>,
}

impl Tls {
    pub(crate) fn new(alpn: &[&[u8]]) -> Tls {
        let dir = tempfile::tempdir().unwrap();
        let cert = TestCert::new(&[HOST]);
        let (c, k) = write_pair(dir.path(), &cert);
        let certs = Arc::new(crate::transport::certs::ReloadingCert::open(&c, &k).unwrap());
        let server = crate::transport::certs::server_config(certs, alpn).unwrap();
        let client = super::client_config(Some(&c)).unwrap();
        Tls {
            _dir: dir,
            server: Arc::new(server),
            client,
        }
    }

    pub(crate) fn server_name() -> rustls_pki_types::ServerName<'static> {
        rustls_pki_types::ServerName::try_from(HOST).unwrap()
    }
}

/// A listener on loopback serving each connection with a script.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Server {
    /// Serve every connection (TLS first when `tls` is given) with
    /// `script`, which gets the stream and the connection's number (0
    /// first). A failed TLS handshake ends that connection.
    pub(crate) async fn start<F, Fut>(tls: Option<Arc<rustls::ServerConfig>>, script: F) -> Server
    where
        F: Fn(Stream, usize) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let script = Arc::new(script);
        let task = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let n = count.fetch_add(1, Ordering::SeqCst);
                let script = script.clone();
                let tls = tls.clone();
                tokio::spawn(async move {
                    let stream: Stream = match tls {
                        None => Box::new(tcp),
                        Some(config) => match TlsAcceptor::from(config).accept(tcp).await {
                            Ok(s) => Box::new(s),
                            Err(_) => return,
                        },
                    };
                    script(stream, n).await;
                });
            }
        });
        Server {
            addr,
            accepted,
            task,
        }
    }

    /// Connections accepted so far.
    pub(crate) fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }
}

/// The next length-prefixed message, `None` at end of stream.
pub(crate) async fn read_query<R: AsyncRead + Unpin + ?Sized>(s: &mut R) -> Option<Vec<u8>> {
    let len = s.read_u16().await.ok()?;
    let mut buf = vec![0; usize::from(len)];
    s.read_exact(&mut buf).await.ok()?;
    Some(buf)
}

/// Write one length-prefixed message.
pub(crate) async fn write_frame<W: AsyncWrite + Unpin + ?Sized>(s: &mut W, msg: &[u8]) {
    let mut frame = (msg.len() as u16).to_be_bytes().to_vec();
    frame.extend_from_slice(msg);
    let _ = s.write_all(&frame).await;
    let _ = s.flush().await;
}

/// The answer to `query`: its ID and question, one A record 192.0.2.1.
pub(crate) fn answer(query: &[u8]) -> Vec<u8> {
    let q = Message::from_vec(query).unwrap();
    let mut m = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.recursion_desired = q.metadata.recursion_desired;
    m.queries = q.queries.clone();
    for query in &q.queries {
        let record = Record::from_rdata(query.name().clone(), 60, RData::A(A::new(192, 0, 2, 1)));
        m.add_answer(record);
    }
    m.to_vec().unwrap()
}

/// The first question's name of a message, as text.
pub(crate) fn name_of(msg: &[u8]) -> String {
    let m = Message::from_vec(msg).unwrap();
    m.queries[0].name().to_ascii()
}

/// A query for `name` A with ID `id`.
pub(crate) fn query(id: u16, name: &str) -> Vec<u8> {
    let mut m = Message::new(id, MessageType::Query, OpCode::Query);
    m.metadata.recursion_desired = true;
    m.add_query(Query::query(Name::from_ascii(name).unwrap(), RecordType::A));
    m.to_vec().unwrap()
}

/// Check that `answer` is the answer to `query(id, name)`.
pub(crate) fn assert_answers(answer: &[u8], id: u16, name: &str) {
    let m = Message::from_vec(answer).unwrap();
    assert_eq!(m.metadata.id, id, "the query's own ID restored");
    assert_eq!(m.metadata.message_type, MessageType::Response);
    assert_eq!(
        m.queries[0].name().to_ascii(),
        name,
        "answer to another name"
    );
    assert_eq!(m.answers.len(), 1);
}

/// Wait until `done` holds, failing after [`DEADLINE`].
pub(crate) async fn until(what: &str, done: impl Fn() -> bool) {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The answer to `query` with `n` A records (about 24 bytes each: 2,500
/// make 59 KB).
pub(crate) fn big_answer(query: &[u8], n: u32) -> Vec<u8> {
    let q = Message::from_vec(query).unwrap();
    let mut m = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
    m.queries = q.queries.clone();
    let name = q.queries[0].name().clone();
    for i in 0..n {
        let [a, b, c, d] = (0xc000_0000 + i).to_be_bytes();
        m.add_answer(Record::from_rdata(
            name.clone(),
            60,
            RData::A(A::new(a, b, c, d)),
        ));
    }
    m.to_vec().unwrap()
}
