//! Access tokens for roaming clients (phones on mobile and hotel networks,
//! whose source addresses say nothing).
//!
//! A token is a secret DNS label, carried the way the ecosystem carries it:
//! - DoH: in the path, `https://dns.example.org/dns-query/<token>`;
//! - DoT: as the first label of the TLS server name (SNI),
//!   `<token>.dns.example.org` (Android "Private DNS" takes exactly this
//!   hostname; the certificate must cover `*.dns.example.org`).
//!
//! parapet stores only the SHA-256 of each token (lowercase hex), in the
//! config (`[access] tokens`) or in a file (`[access] tokens_file`, one
//! `<sha256-hex> [label]` per line, `#` comments). The file is watched and
//! re-read on change and on SIGHUP: adding or revoking a device needs no
//! restart. Revocation fails closed: while the file is missing, unreadable
//! or does not parse, *no* token is valid (inline ones included), logged at
//! WARN and counted in `parapet_tokens_file_errors_total`; once it is back
//! and valid, its tokens work again. (At start, a bad file is a config
//! error.)
//!
//! Tokens are compared without case (SNI names are case-insensitive), so a
//! token is hashed in lowercase; [`generate`] makes suitable ones.
//!
//! Access rule: a request that carries a valid token is *token-authenticated*
//! and skips the address allow-list (`[access] allow`); everything else
//! (policy, rate limits, metrics, logs) applies as usual. A request with no
//! token is judged by the address allow-list like plain DNS. A DoH request
//! with an unknown or revoked token gets HTTP 403; a DoT connection whose
//! server name does not start with a valid token is treated as carrying no
//! token (so a roaming client gets REFUSED), and a token revoked while a DoT
//! connection is open takes effect on its next query.

use std::{
    collections::{HashMap, HashSet},
    fs,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, OnceLock},
};

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};

use crate::metrics::Metrics;
use crate::metrics::TokenRefusal;

/// How many revoked token hashes are remembered to tell "revoked" from
/// "unknown" in refusals; past it the memory starts afresh.
const REMEMBERED_REVOKED: usize = 65_536;

/// The SHA-256 of a token as stored in config: 64 lowercase hex digits.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.to_ascii_lowercase().as_bytes()))
}

/// A new random token: 32 lowercase hex digits (128 bits), usable both as a
/// URL path segment and as a DNS label.
pub fn generate() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

/// Whether `token` can be carried both in a DoH path and as an SNI label.
pub fn is_valid_token(token: &str) -> bool {
    (1..=63).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What a token entry must look like (the tail of [`TokenError::Entry`]).
pub const ENTRY_HELP: &str = "is not a SHA-256 hex digest (64 hex digits) optionally followed by a label; store hashes, not tokens (`parapet token hash TOKEN`)";

/// A bad entry in `[access] tokens` or in the tokens file.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The tokens file could not be read.
    #[error("access.tokens_file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// An entry is not `<sha256-hex> [label]`.
    #[error("{place}: {entry:?} {ENTRY_HELP}")]
    Entry {
        /// `access.tokens[2]` or `FILE:LINE`.
        place: String,
        /// The offending text.
        entry: String,
    },
}

/// One immutable set of valid token hashes, each with a label for logs.
#[derive(Debug, Default, PartialEq)]
pub struct TokenSet {
    by_hash: HashMap<[u8; 32], Arc<str>>,
}

impl TokenSet {
    /// Parse `<sha256-hex> [label]` entries; `place(i)` names entry `i` in errors.
    fn parse<'a>(entries: impl IntoIterator<Item = (String, &'a str)>) -> Result<Self, TokenError> {
        let mut by_hash = HashMap::new();
        for (place, raw) in entries {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let hex_digest = parts.next().unwrap_or("");
            let mut hash = [0u8; 32];
            if hex::decode_to_slice(hex_digest, &mut hash).is_err() {
                return Err(TokenError::Entry {
                    place,
                    entry: raw.trim().to_owned(),
                });
            }
            let label = parts.collect::<Vec<_>>().join(" ");
            let label = if label.is_empty() {
                format!("{}…", &hex_digest[..8])
            } else {
                label
            };
            by_hash.insert(hash, Arc::from(label));
        }
        Ok(Self { by_hash })
    }

    /// The label of `token` if it is in the set.
    pub fn check(&self, token: &str) -> Option<Arc<str>> {
        if !is_valid_token(token) {
            return None;
        }
        self.by_hash.get(&digest(token)).cloned()
    }

    /// How many tokens are valid.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether no token is valid.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }
}

/// The SHA-256 of a token, compared without case.
fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.to_ascii_lowercase().as_bytes()).into()
}

/// The live token store: inline hashes from config plus an optional file,
/// swapped atomically on reload.
#[derive(Debug)]
pub struct Tokens {
    inline: Vec<String>,
    file: Option<PathBuf>,
    current: ArcSwap<TokenSet>,
    metrics: OnceLock<Arc<Metrics>>,
    /// Hashes that were valid in an earlier set and are not now: only to
    /// name the reason of a refusal ([`Tokens::refusal`]).
    revoked: Mutex<HashSet<[u8; 32]>>,
    /// What [`Tokens::reload_logged`] last logged: one change of the file
    /// comes as several file events, logged once.
    last_logged: Mutex<Option<String>>,
}

impl Tokens {
    /// Build the store from `[access] tokens` and `[access] tokens_file`.
    ///
    /// # Errors
    /// A malformed entry or an unreadable file.
    pub fn new(inline: &[String], file: Option<&Path>) -> Result<Self, TokenError> {
        let tokens = Self {
            inline: inline.to_vec(),
            file: file.map(Path::to_owned),
            current: ArcSwap::from_pointee(TokenSet::default()),
            metrics: OnceLock::new(),
            revoked: Mutex::default(),
            last_logged: Mutex::default(),
        };
        tokens.current.store(Arc::new(tokens.load()?));
        Ok(tokens)
    }

    /// No tokens configured at all (neither inline nor a file): DoT and DoH
    /// are then served under the address allow-list only.
    pub fn disabled() -> Self {
        Self {
            inline: Vec::new(),
            file: None,
            current: ArcSwap::from_pointee(TokenSet::default()),
            metrics: OnceLock::new(),
            revoked: Mutex::default(),
            last_logged: Mutex::default(),
        }
    }

    /// Report the valid tokens and tokens-file errors in `metrics` from now
    /// on (`parapet_tokens_valid`, `parapet_tokens_file_errors_total`).
    pub fn set_metrics(&self, metrics: Arc<Metrics>) {
        metrics.record_tokens(self.current.load().len(), false);
        let _ = self.metrics.set(metrics);
    }

    /// The tokens file, if one is configured.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    fn load(&self) -> Result<TokenSet, TokenError> {
        let file_text = match &self.file {
            Some(path) => fs::read_to_string(path).map_err(|source| TokenError::Read {
                path: path.clone(),
                source,
            })?,
            None => String::new(),
        };
        let file_name = self
            .file
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        let inline = self
            .inline
            .iter()
            .enumerate()
            .map(|(i, e)| (format!("access.tokens[{i}]"), e.as_str()));
        let lines = file_text
            .lines()
            .enumerate()
            .map(|(i, l)| (format!("{file_name}:{}", i + 1), l));
        TokenSet::parse(inline.chain(lines))
    }

    /// Read the tokens again. A missing, unreadable or bad file fails
    /// closed: no token is valid until a reload succeeds.
    ///
    /// # Errors
    /// Why the file was refused.
    pub fn reload(&self) -> Result<usize, TokenError> {
        let (set, result) = match self.load() {
            Ok(set) => {
                let n = set.len();
                (set, Ok(n))
            }
            Err(error) => (TokenSet::default(), Err(error)),
        };
        if let Some(metrics) = self.metrics.get() {
            metrics.record_tokens(set.len(), result.is_err());
        }
        self.replace(set);
        result
    }

    /// Put `set` in service, remembering the hashes it drops as revoked.
    fn replace(&self, set: TokenSet) {
        let old = self.current.swap(Arc::new(set));
        let new = self.current.load();
        let mut revoked = self
            .revoked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if revoked.len() >= REMEMBERED_REVOKED {
            revoked.clear();
        }
        revoked.extend(old.by_hash.keys().filter(|h| !new.by_hash.contains_key(*h)));
        revoked.retain(|h| !new.by_hash.contains_key(h));
    }

    /// Why `token`, which [`Tokens::check`] did not accept, is refused:
    /// not a well-formed token, one revoked since start, or unknown.
    pub fn refusal(&self, token: &str) -> TokenRefusal {
        if !is_valid_token(token) {
            return TokenRefusal::Malformed;
        }
        let revoked = self
            .revoked
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if revoked.contains(&digest(token)) {
            TokenRefusal::Revoked
        } else {
            TokenRefusal::Unknown
        }
    }

    /// [`Tokens::reload`], logging the outcome (for watchers and SIGHUP).
    /// A reload that changes nothing and ends as the last logged one did
    /// (the same count, or the same error) is not logged again.
    pub fn reload_logged(&self) {
        let before = self.current.load_full();
        let result = self.reload();
        let line = match &result {
            Ok(n) => format!("ok {n}"),
            Err(error) => format!("error {error}"),
        };
        {
            let mut last = self
                .last_logged
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if *self.current.load_full() == *before && last.as_deref() == Some(line.as_str()) {
                return;
            }
            *last = Some(line);
        }
        match result {
            Ok(n) => tracing::info!(tokens = n, "access tokens reloaded"),
            Err(error) => {
                tracing::warn!(%error, "access tokens file refused: no token is valid until it is fixed")
            }
        }
    }

    /// The label of `token` if it is currently valid.
    pub fn check(&self, token: &str) -> Option<Arc<str>> {
        self.current.load().check(token)
    }

    /// The set in service.
    pub fn current(&self) -> Arc<TokenSet> {
        self.current.load_full()
    }

    /// Watch the tokens file (its directory, so editors' and `mv`'s atomic
    /// replacements are seen) and reload on every change. Keep the returned
    /// watcher alive for as long as reloads should happen; `None` when no
    /// file is configured.
    ///
    /// # Errors
    /// The watch could not be set up.
    pub fn watch(self: &Arc<Self>) -> notify::Result<Option<notify::RecommendedWatcher>> {
        use notify::Watcher;
        let Some(file) = self.file.clone() else {
            return Ok(None);
        };
        let dir = match file.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let name = file.file_name().map(|n| n.to_owned());
        let tokens = Arc::clone(self);
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if event.kind.is_access() {
                    return;
                }
                if event.paths.iter().any(|p| p.file_name() == name.as_deref()) {
                    tokens.reload_logged();
                }
            })?;
        watcher.watch(&dir, notify::RecursiveMode::NonRecursive)?;
        Ok(Some(watcher))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_tell_unknown_revoked_and_malformed_tokens_apart() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        let entry = |t: &str| format!("{} {t}\n", hash_token(t));
        std::fs::write(&file, entry("alice-1") + &entry("bob-1")).unwrap();
        let tokens = Tokens::new(&[], Some(&file)).unwrap();
        assert_eq!(tokens.refusal("carol-1"), TokenRefusal::Unknown);
        std::fs::write(&file, entry("bob-1")).unwrap();
        tokens.reload().unwrap();
        assert!(tokens.check("alice-1").is_none());
        assert_eq!(tokens.refusal("alice-1"), TokenRefusal::Revoked);
        assert_eq!(tokens.refusal("ALICE-1"), TokenRefusal::Revoked);
        assert_eq!(tokens.refusal("carol-1"), TokenRefusal::Unknown);
        assert_eq!(tokens.refusal("a.b"), TokenRefusal::Malformed);
        assert_eq!(tokens.refusal(""), TokenRefusal::Malformed);
        // Given back: valid again, and no longer remembered as revoked.
        std::fs::write(&file, entry("alice-1")).unwrap();
        tokens.reload().unwrap();
        assert!(tokens.check("alice-1").is_some());
        assert_eq!(tokens.refusal("bob-1"), TokenRefusal::Revoked);
        std::fs::write(&file, entry("bob-1")).unwrap();
        tokens.reload().unwrap();
        assert_eq!(tokens.refusal("alice-1"), TokenRefusal::Revoked);
    }

    #[test]
    fn hashes_are_lowercase_sha256_of_the_lowercased_token() {
        // echo -n abc | sha256sum
        assert_eq!(
            hash_token("ABC"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let t = generate();
        assert!(is_valid_token(&t) && t.len() == 32);
        assert_ne!(t, generate());
    }

    #[test]
    fn checks_tokens_from_config_and_file_with_labels() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        fs::write(
            &file,
            format!("# staff\n\n{} alice phone\n", hash_token("alice-1")),
        )
        .unwrap();
        let tokens = Tokens::new(&[hash_token("Group-2")], Some(&file)).unwrap();
        assert_eq!(tokens.check("alice-1").as_deref(), Some("alice phone"));
        assert!(tokens.check("GROUP-2").is_some(), "case-insensitive");
        assert_eq!(tokens.check("mallory"), None);
        assert_eq!(tokens.check(""), None);
        assert_eq!(tokens.check("a/b"), None);
        assert_eq!(tokens.current().len(), 2);
    }

    #[test]
    fn bad_entries_name_their_place_and_a_bad_reload_fails_closed() {
        let err = Tokens::new(&["plaintext-token".into()], None).unwrap_err();
        assert!(err.to_string().starts_with("access.tokens[0]:"), "{err}");

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        fs::write(&file, format!("{}\n", hash_token("t1"))).unwrap();
        let tokens = Tokens::new(&[], Some(&file)).unwrap();
        fs::write(&file, format!("{}\nzz not-a-hash\n", hash_token("t2"))).unwrap();
        let err = tokens.reload().unwrap_err();
        assert!(err.to_string().contains("tokens:2"), "{err}");
        assert!(tokens.check("t1").is_none() && tokens.check("t2").is_none());
        assert!(tokens.current().is_empty(), "no token is valid");

        fs::write(&file, format!("{}\n", hash_token("t2"))).unwrap();
        assert_eq!(tokens.reload().unwrap(), 1);
        assert!(tokens.check("t1").is_none() && tokens.check("t2").is_some());
    }

    #[test]
    fn a_removed_file_revokes_every_token_until_it_returns() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        fs::write(&file, format!("{}\n", hash_token("t1"))).unwrap();
        let tokens = Tokens::new(&[hash_token("inline")], Some(&file)).unwrap();
        let metrics = Arc::new(Metrics::new());
        tokens.set_metrics(Arc::clone(&metrics));
        fs::remove_file(&file).unwrap();
        assert!(tokens.reload().is_err());
        assert!(tokens.check("t1").is_none() && tokens.check("inline").is_none());
        let text = metrics.encode();
        assert!(
            text.contains("parapet_tokens_file_errors_total 1\n"),
            "{text}"
        );
        assert!(text.contains("parapet_tokens_valid 0\n"), "{text}");
        fs::write(&file, format!("{}\n", hash_token("t1"))).unwrap();
        assert_eq!(tokens.reload().unwrap(), 2);
        assert!(tokens.check("t1").is_some() && tokens.check("inline").is_some());
        assert!(metrics.encode().contains("parapet_tokens_valid 2\n"));
    }

    #[test]
    fn missing_file_is_an_error() {
        let err = Tokens::new(&[], Some(Path::new("/nonexistent/tokens"))).unwrap_err();
        assert!(err.to_string().contains("access.tokens_file"), "{err}");
    }

    #[tokio::test]
    async fn watched_file_changes_take_effect_without_restart() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        fs::write(&file, format!("{}\n", hash_token("old"))).unwrap();
        let tokens = Arc::new(Tokens::new(&[], Some(&file)).unwrap());
        let _watcher = tokens.watch().unwrap();
        // Replace atomically, as an editor or `mv` would.
        let tmp = dir.path().join("tokens.new");
        fs::write(&tmp, format!("{}\n", hash_token("new"))).unwrap();
        fs::rename(&tmp, &file).unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while tokens.check("new").is_none() {
            assert!(std::time::Instant::now() < deadline, "reload not seen");
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(tokens.check("old").is_none());
    }

    /// A log sink the test reads back.
    #[derive(Clone, Default)]
    struct Capture(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn one_change_seen_as_several_file_events_is_logged_once() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tokens");
        fs::write(&file, format!("{}\n", hash_token("old"))).unwrap();
        let tokens = Tokens::new(&[], Some(&file)).unwrap();
        let log = Capture::default();
        let sink = log.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        let lines = |what: &str| {
            let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
            text.matches(what).count()
        };
        // A change: two events (write, close), one line.
        fs::write(&file, format!("{}\n", hash_token("new"))).unwrap();
        tokens.reload_logged();
        tokens.reload_logged();
        assert_eq!(lines("access tokens reloaded"), 1);
        // The file removed: one warning for its events, not one each.
        fs::remove_file(&file).unwrap();
        tokens.reload_logged();
        tokens.reload_logged();
        assert_eq!(lines("access tokens file refused"), 1);
        // Back: logged again.
        fs::write(&file, format!("{}\n", hash_token("new"))).unwrap();
        tokens.reload_logged();
        assert_eq!(lines("access tokens reloaded"), 2);
        assert!(tokens.check("new").is_some());
    }
}
