//! A tiny HTTPS (or plain HTTP) /1.1 feed server on 127.0.0.1:0 for the feed
//! tests: each path serves a scripted [`Route`], and every request's headers
//! are recorded. HTTPS uses one self-signed test certificate for 127.0.0.1,
//! which each [`Setup`] writes as `test-ca.pem` and [`url_feed`] names as the
//! feed's `ca_file`.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use parapet_blocklist::feed::{UpdateConfig, UpdateOptions, UpdateReport};

/// How a path answers.
#[derive(Clone)]
pub enum Route {
    /// 200 with the body; answers 304 to a matching `If-None-Match` or an
    /// `If-Modified-Since` equal to `last_modified`.
    Ok {
        body: Vec<u8>,
        etag: Option<String>,
        last_modified: Option<String>,
    },
    /// A bare status with an empty body.
    Status(u16),
    /// Declares `declared` bytes, sends `body`, closes.
    Truncated { body: Vec<u8>, declared: usize },
    /// 200 without Content-Length, streaming list lines until the client
    /// hangs up (at most 1 GiB or 30 s).
    Endless,
    /// 200 declaring a large body, then one byte every 50 ms (at most 30 s).
    Slow,
    /// 302 to `location`.
    Redirect(String),
}

/// The test certificate (PEM) and the TLS server config that presents it.
struct TestTls {
    cert_pem: String,
    config: Arc<rustls::ServerConfig>,
}

fn test_tls() -> &'static TestTls {
    static TLS: OnceLock<TestTls> = OnceLock::new();
    TLS.get_or_init(|| {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let der_key = rustls_pki_types::PrivateKeyDer::try_from(key.serialize_der()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![cert.der().clone()], der_key)
            .unwrap();
        TestTls {
            cert_pem: cert.pem(),
            config: Arc::new(config),
        }
    })
}

/// One recorded request.
#[derive(Clone, Debug)]
pub struct Request {
    pub path: String,
    /// Header names lower-cased.
    pub headers: HashMap<String, String>,
}

pub struct FeedServer {
    addr: SocketAddr,
    tls: bool,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

impl FeedServer {
    /// An HTTPS server presenting the test certificate.
    pub fn start() -> FeedServer {
        Self::start_with(true)
    }

    /// A plain HTTP server.
    pub fn start_plain() -> FeedServer {
        Self::start_with(false)
    }

    fn start_with(tls: bool) -> FeedServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let tls_config = tls.then(|| test_tls().config.clone());
        let server = FeedServer {
            addr,
            tls,
            routes: Arc::default(),
            requests: Arc::default(),
            stop: Arc::default(),
        };
        let (routes, requests, stop) = (
            server.routes.clone(),
            server.requests.clone(),
            server.stop.clone(),
        );
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
                let (routes, requests) = (routes.clone(), requests.clone());
                let tls_config = tls_config.clone();
                std::thread::spawn(move || match tls_config {
                    None => serve(stream, &routes, &requests),
                    Some(config) => {
                        let Ok(connection) = rustls::ServerConnection::new(config) else {
                            return;
                        };
                        let stream = rustls::StreamOwned::new(connection, stream);
                        serve(stream, &routes, &requests);
                    }
                });
            }
        });
        server
    }

    pub fn url(&self, path: &str) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}{path}", self.addr)
    }

    pub fn set(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.to_string(), route);
    }

    /// 200 with `body` and an ETag derived from `tag`.
    pub fn set_body(&self, path: &str, body: &[u8], tag: &str) {
        self.set(
            path,
            Route::Ok {
                body: body.to_vec(),
                etag: Some(format!("\"{tag}\"")),
                last_modified: None,
            },
        );
    }

    pub fn requests_for(&self, path: &str) -> Vec<Request> {
        let requests = self.requests.lock().unwrap();
        requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }
}

impl Drop for FeedServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(
    mut stream: impl Read + Write,
    routes: &Mutex<HashMap<String, Route>>,
    requests: &Mutex<Vec<Request>>,
) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("/")
        .to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    requests.lock().unwrap().push(Request {
        path: path.clone(),
        headers: headers.clone(),
    });
    let route = routes
        .lock()
        .unwrap()
        .get(&path)
        .cloned()
        .unwrap_or(Route::Status(404));
    let _ = respond(&mut stream, route, &headers);
    let _ = stream.flush();
}

fn respond(
    stream: &mut impl Write,
    route: Route,
    headers: &HashMap<String, String>,
) -> std::io::Result<()> {
    match route {
        Route::Ok {
            body,
            etag,
            last_modified,
        } => {
            let fresh = etag.is_some() && headers.get("if-none-match") == etag.as_ref()
                || last_modified.is_some()
                    && headers.get("if-modified-since") == last_modified.as_ref();
            let mut extra = String::new();
            if let Some(etag) = &etag {
                extra += &format!("ETag: {etag}\r\n");
            }
            if let Some(date) = &last_modified {
                extra += &format!("Last-Modified: {date}\r\n");
            }
            if fresh {
                write!(
                    stream,
                    "HTTP/1.1 304 Not Modified\r\n{extra}Connection: close\r\n\r\n"
                )
            } else {
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                )?;
                stream.write_all(&body)
            }
        }
        Route::Redirect(location) => write!(
            stream,
            "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
        Route::Status(code) => write!(
            stream,
            "HTTP/1.1 {code} Scripted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        ),
        Route::Truncated { body, declared } => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {declared}\r\nConnection: close\r\n\r\n"
            )?;
            stream.write_all(&body)
        }
        Route::Endless => {
            write!(stream, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")?;
            let chunk = "0.0.0.0 endless.example\n".repeat(2730);
            let started = Instant::now();
            let mut sent = 0usize;
            while sent < 1 << 30 && started.elapsed() < Duration::from_secs(30) {
                stream.write_all(chunk.as_bytes())?;
                sent += chunk.len();
            }
            Ok(())
        }
        Route::Slow => {
            write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n"
            )?;
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(30) {
                stream.write_all(b"#")?;
                stream.flush()?;
                std::thread::sleep(Duration::from_millis(50));
            }
            Ok(())
        }
    }
}

/// A hosts file blocking `names`.
pub fn hosts(names: &[&str]) -> Vec<u8> {
    let mut text = String::from("# test feed\n");
    for name in names {
        text += &format!("0.0.0.0 {name}\n");
    }
    text.into_bytes()
}

/// `count` distinct names `n<i>.<suffix>`.
pub fn names(count: usize, suffix: &str) -> Vec<String> {
    (0..count).map(|i| format!("n{i}.{suffix}")).collect()
}

/// A temporary directory holding `parapet.toml` with the given `[[feeds]]`
/// text and `[blocklist] path = "lists/parapet.pbl"`.
pub struct Setup {
    pub dir: tempfile::TempDir,
}

impl Setup {
    pub fn new(feeds: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("test-ca.pem"), &test_tls().cert_pem).unwrap();
        let setup = Setup { dir };
        setup.write_config(feeds);
        setup
    }

    pub fn write_config(&self, feeds: &str) {
        let text = format!(
            "[server]\nlisten = [\"127.0.0.1:5353\"]\n\n[blocklist]\npath = \"lists/parapet.pbl\"\n\n{feeds}"
        );
        std::fs::write(self.config_path(), text).unwrap();
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("parapet.toml")
    }

    pub fn artifact(&self) -> PathBuf {
        self.dir.path().join("lists/parapet.pbl")
    }

    pub fn state_body(&self, feed: &str) -> PathBuf {
        self.dir.path().join(format!("lists/feeds/{feed}.body"))
    }

    pub fn update(&self, force: bool) -> UpdateReport {
        let config = UpdateConfig::load(&self.config_path()).expect("config loads");
        let options = UpdateOptions {
            force,
            state_dir: None,
        };
        parapet_blocklist::feed::update(&config, &options)
    }
}

/// `[[feeds]]` text for one URL feed with extra keys; an `https://` feed
/// trusts the test certificate.
pub fn url_feed(name: &str, url: &str, extra: &str) -> String {
    let ca = if url.starts_with("https://") {
        "ca_file = \"test-ca.pem\"\n"
    } else {
        ""
    };
    format!("[[feeds]]\nname = \"{name}\"\nurl = \"{url}\"\ncategory = \"phishing\"\n{ca}{extra}\n")
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/feed")
        .join(name)
}

/// A minisign key pair made by the real `minisign` binary (no password).
pub struct Signer {
    dir: tempfile::TempDir,
}

impl Signer {
    /// `minisign -G`.
    pub fn new() -> Signer {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("minisign")
            .args(["-G", "-W", "-p"])
            .arg(dir.path().join("key.pub"))
            .arg("-s")
            .arg(dir.path().join("key.sec"))
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run minisign -G");
        assert!(status.status.success(), "minisign -G: {status:?}");
        Signer { dir }
    }

    /// The public key's base64 line, for `minisign_key`.
    pub fn public_key(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("key.pub")).unwrap();
        text.lines().nth(1).unwrap().to_string()
    }

    /// Sign `body` as a file named `file_name` with `minisign -S`: with
    /// `trusted` as the trusted comment, or minisign's default
    /// (`timestamp:<now>\tfile:<file_name>\thashed`) when `None`. Returns
    /// the `.minisig` text.
    pub fn sign(&self, file_name: &str, body: &[u8], trusted: Option<&str>) -> Vec<u8> {
        let work = tempfile::tempdir().unwrap();
        let file = work.path().join(file_name);
        std::fs::write(&file, body).unwrap();
        let mut command = std::process::Command::new("minisign");
        command
            .arg("-S")
            .arg("-s")
            .arg(self.dir.path().join("key.sec"))
            .arg("-m")
            .arg(&file)
            .stdin(std::process::Stdio::null());
        if let Some(comment) = trusted {
            command.arg("-t").arg(comment);
        }
        let output = command.output().expect("run minisign -S");
        assert!(output.status.success(), "minisign -S: {output:?}");
        let mut sig = file.into_os_string();
        sig.push(".minisig");
        std::fs::read(sig).unwrap()
    }
}
