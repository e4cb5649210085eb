//! Getting a feed's body into a temporary file: HTTP(S) with conditional
//! requests, or a local file; capped in size and time; hashed and
//! signature-checked as it streams; gzip bodies are decompressed.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

use super::config::FeedConfig;
use super::state::Meta;
use super::verify::{MAX_SIGNATURE_BYTES, SignatureCheck, Tee, check_pin};

/// What a fetch produced.
pub(crate) enum Fetched {
    /// The server answered 304: the last good copy is current.
    NotModified,
    /// A new body, verified, in a temporary file.
    Body(Download),
}

/// A downloaded, verified body.
pub(crate) struct Download {
    /// The body (decompressed), in the feed state directory.
    pub file: tempfile::NamedTempFile,
    /// SHA-256 (hex) of the body as served.
    pub sha256: String,
    /// `ETag` response header.
    pub etag: Option<String>,
    /// `Last-Modified` response header.
    pub last_modified: Option<String>,
    /// The verified signature's trusted comment (signed feeds only).
    pub trusted_comment: Option<String>,
}

/// Why a fetch failed.
pub(crate) enum FetchError {
    /// Could not get the body (network, HTTP status, size, time, I/O).
    Download(String),
    /// Got a body that failed verification (pin or signature).
    Refused(String),
}

/// Fetch `feed` into a temporary file in `dir`. With `previous` (the last
/// good copy's metadata) an HTTP fetch is conditional.
pub(crate) fn fetch(
    feed: &FeedConfig,
    previous: Option<&Meta>,
    dir: &Path,
) -> Result<Fetched, FetchError> {
    match (&feed.url, &feed.path) {
        (Some(url), _) => fetch_url(feed, url, previous, dir),
        (None, Some(path)) => fetch_path(feed, path, dir),
        (None, None) => Err(FetchError::Download("neither url nor path is set".into())),
    }
}

/// The HTTP client for `feed`: an `https://` feed never makes a plain
/// `http://` request, a redirect included; `ca_file` replaces the public roots.
fn agent(feed: &FeedConfig) -> Result<ureq::Agent, FetchError> {
    let mut tls = ureq::tls::TlsConfig::builder();
    if let Some(path) = &feed.ca_file {
        let certs = read_ca_file(path)
            .map_err(|e| FetchError::Download(format!("ca_file {}: {e}", path.display())))?;
        tls = tls.root_certs(ureq::tls::RootCerts::new_with_certs(&certs));
    }
    Ok(ureq::Agent::config_builder()
        .timeout_global(Some(feed.timeout()))
        .http_status_as_error(false)
        .https_only(feed.is_https())
        .tls_config(tls.build())
        .user_agent(concat!("parapet-blocklist/", env!("CARGO_PKG_VERSION")))
        .build()
        .into())
}

/// The certificates in the PEM file at `path` (at least one).
pub(crate) fn read_ca_file(path: &Path) -> Result<Vec<ureq::tls::Certificate<'static>>, String> {
    let pem = std::fs::read(path).map_err(|e| e.to_string())?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        match item.map_err(|e| format!("not PEM: {e}"))? {
            ureq::tls::PemItem::Certificate(cert) => certs.push(cert),
            _ => return Err("holds a private key, not only certificates".into()),
        }
    }
    if certs.is_empty() {
        return Err("no PEM certificate in the file".into());
    }
    Ok(certs)
}

/// A request error as text; the refusal of a redirect to `http://` says so.
fn request_error(e: &ureq::Error) -> String {
    match e {
        ureq::Error::RequireHttpsOnly(target) => format!(
            "refused to leave https for {target}: an https:// feed is never fetched over http:// (redirects included)"
        ),
        other => other.to_string(),
    }
}

fn fetch_url(
    feed: &FeedConfig,
    url: &str,
    previous: Option<&Meta>,
    dir: &Path,
) -> Result<Fetched, FetchError> {
    let download = |e: String| FetchError::Download(format!("{url}: {e}"));
    let agent = agent(feed)?;
    let mut request = agent.get(url);
    let mut conditional = false;
    if let Some(meta) = previous {
        if let Some(etag) = &meta.etag {
            request = request.header("If-None-Match", etag);
            conditional = true;
        }
        if let Some(date) = &meta.last_modified {
            request = request.header("If-Modified-Since", date);
            conditional = true;
        }
    }
    let response = request.call().map_err(|e| download(request_error(&e)))?;
    let status = response.status().as_u16();
    if status == 304 && conditional {
        return Ok(Fetched::NotModified);
    }
    if status != 200 {
        return Err(download(format!("HTTP {status}")));
    }
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let etag = header("etag");
    let last_modified = header("last-modified");
    if let Some(len) = header("content-length").and_then(|v| v.parse::<u64>().ok())
        && len > feed.max_bytes()
    {
        return Err(download(over_cap(feed)));
    }
    let check = match &feed.minisign_key {
        None => None,
        Some(key) => {
            let sig_url = feed
                .signature_url
                .clone()
                .unwrap_or_else(|| format!("{url}.minisig"));
            let text = fetch_signature(&agent, &sig_url)?;
            Some(SignatureCheck::new(key, &text).map_err(FetchError::Refused)?)
        }
    };
    let body = response.into_body().into_reader();
    let (file, sha256) = receive(feed, body, check.as_ref(), dir).map_err(|e| match e {
        FetchError::Download(e) => download(e),
        refused => refused,
    })?;
    Ok(Fetched::Body(Download {
        file,
        sha256,
        etag,
        last_modified,
        trusted_comment: check.map(|c| c.trusted_comment().to_string()),
    }))
}

fn fetch_signature(agent: &ureq::Agent, url: &str) -> Result<String, FetchError> {
    let refused = |e: String| FetchError::Refused(format!("signature {url}: {e}"));
    let mut response = agent
        .get(url)
        .call()
        .map_err(|e| refused(request_error(&e)))?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(refused(format!("HTTP {status}")));
    }
    response
        .body_mut()
        .with_config()
        .limit(MAX_SIGNATURE_BYTES)
        .read_to_string()
        .map_err(|e| refused(e.to_string()))
}

fn fetch_path(feed: &FeedConfig, path: &Path, dir: &Path) -> Result<Fetched, FetchError> {
    let download = |e: String| FetchError::Download(format!("{}: {e}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| download(e.to_string()))?;
    let len = file.metadata().map_err(|e| download(e.to_string()))?.len();
    if len > feed.max_bytes() {
        return Err(download(over_cap(feed)));
    }
    let check = match &feed.minisign_key {
        None => None,
        Some(key) => {
            let mut sig_path = path.as_os_str().to_owned();
            sig_path.push(".minisig");
            let mut text = String::new();
            std::fs::File::open(&sig_path)
                .and_then(|f| f.take(MAX_SIGNATURE_BYTES).read_to_string(&mut text))
                .map_err(|e| {
                    FetchError::Refused(format!(
                        "signature {}: {e}",
                        Path::new(&sig_path).display()
                    ))
                })?;
            Some(SignatureCheck::new(key, &text).map_err(FetchError::Refused)?)
        }
    };
    let (file, sha256) = receive(feed, file, check.as_ref(), dir).map_err(|e| match e {
        FetchError::Download(e) => download(e),
        refused => refused,
    })?;
    Ok(Fetched::Body(Download {
        file,
        sha256,
        etag: None,
        last_modified: None,
        trusted_comment: check.map(|c| c.trusted_comment().to_string()),
    }))
}

fn over_cap(feed: &FeedConfig) -> String {
    format!("body is larger than max_bytes ({} bytes)", feed.max_bytes())
}

/// Stream `body` into a temporary file in `dir`: at most `max_bytes` after
/// decompression, hashed and signature-checked over the bytes as served.
fn receive(
    feed: &FeedConfig,
    body: impl Read,
    check: Option<&SignatureCheck>,
    dir: &Path,
) -> Result<(tempfile::NamedTempFile, String), FetchError> {
    let io_error = |e: io::Error| FetchError::Download(format!("reading body: {e}"));
    let max = feed.max_bytes();
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .map_err(|e| FetchError::Download(format!("{}: {e}", dir.display())))?;
    let mut tee = Tee::new(body, check).map_err(FetchError::Refused)?;
    {
        let mut buffered = BufReader::with_capacity(64 * 1024, &mut tee);
        let gzip = buffered
            .fill_buf()
            .map_err(io_error)?
            .starts_with(&[0x1f, 0x8b]);
        let mut writer = io::BufWriter::new(tmp.as_file_mut());
        let copied = if gzip {
            let decoder = flate2::bufread::MultiGzDecoder::new(&mut buffered);
            io::copy(&mut decoder.take(max + 1), &mut writer)
        } else {
            io::copy(&mut (&mut buffered).take(max + 1), &mut writer)
        }
        .map_err(io_error)?;
        if copied > max {
            return Err(FetchError::Download(over_cap(feed)));
        }
        writer.flush().map_err(io_error)?;
        // Anything after the last gzip member still counts for the checks.
        io::copy(&mut buffered.take(max), &mut io::sink()).map_err(io_error)?;
    }
    if tee.bytes_read() > max {
        return Err(FetchError::Download(over_cap(feed)));
    }
    let (sha256, signature) = tee.finish();
    check_pin(feed.sha256.as_deref(), &sha256).map_err(FetchError::Refused)?;
    signature.map_err(FetchError::Refused)?;
    tmp.as_file().sync_all().map_err(io_error)?;
    Ok((tmp, sha256))
}
