//! TLS certificates for DoT and DoH: load a PEM chain and key, and pick up
//! renewals (certbot, ACME clients) for new handshakes without restarting.
//!
//! [`ReloadingCert`] is a rustls [`ResolvesServerCert`]. On a handshake it
//! looks at the files at most once per [`RECHECK_INTERVAL`]; when the
//! contents of either file changed it loads the pair again. A pair that fails to load (half-written files, a key that does not
//! match the certificate) is logged and the previous certificate keeps
//! serving; it is retried on a later handshake. Connections that are already
//! open are never touched: TLS does not renegotiate certificates.

use std::{
    fs,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use arc_swap::ArcSwap;
use rustls::{
    ServerConfig,
    crypto::{CryptoProvider, ring},
    server::{ClientHello, ResolvesServerCert},
    sign::CertifiedKey,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

/// How often, at most, a handshake checks whether the files changed.
/// Bounds the cost of a handshake flood to reading the two files once per
/// interval.
pub const RECHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Why a certificate/key pair could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CertError {
    /// The certificate file could not be read or holds no PEM certificate.
    #[error("server.tls_cert {path}: {reason}")]
    Cert {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The key file could not be read or holds no PEM private key.
    #[error("server.tls_key {path}: {reason}")]
    Key {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The key does not belong to the certificate, or its type is unsupported.
    #[error("server.tls_key {path} does not fit server.tls_cert: {reason}")]
    Mismatch {
        /// The key file.
        path: PathBuf,
        /// What rustls said.
        reason: String,
    },
}

/// The crypto provider every parapet TLS endpoint uses (ring).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// Load a PEM certificate chain (leaf first) and a PEM private key (PKCS#8,
/// PKCS#1 or SEC1) and check that they belong together.
///
/// # Errors
/// A missing or unreadable file, no certificate or key in it, or a key that
/// does not match the leaf certificate.
pub fn load_certified_key(cert_path: &Path, key_path: &Path) -> Result<CertifiedKey, CertError> {
    let cert_err = |reason: String| CertError::Cert {
        path: cert_path.to_owned(),
        reason,
    };
    let chain = CertificateDer::pem_file_iter(cert_path)
        .map_err(|e| cert_err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_err(e.to_string()))?;
    if chain.is_empty() {
        return Err(cert_err("no PEM certificate in the file".into()));
    }
    let key = PrivateKeyDer::from_pem_file(key_path).map_err(|e| CertError::Key {
        path: key_path.to_owned(),
        reason: e.to_string(),
    })?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(|e| CertError::Mismatch {
        path: key_path.to_owned(),
        reason: e.to_string(),
    })
}

/// What identifies one version of the two files on disk: a digest of their
/// contents. Modification times are too coarse (a renewal can rewrite a file
/// within one clock tick) and the files are a few kilobytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp([u8; 32]);

impl Stamp {
    fn read(cert: &Path, key: &Path) -> Option<Self> {
        use sha2::Digest;
        let mut digest = sha2::Sha256::new();
        for path in [cert, key] {
            let bytes = fs::read(path).ok()?;
            digest.update((bytes.len() as u64).to_le_bytes());
            digest.update(bytes);
        }
        Some(Self(digest.finalize().into()))
    }
}

#[derive(Debug)]
struct Check {
    last_check: Instant,
    stamp: Option<Stamp>,
}

/// A certificate resolver that serves one certificate for every server name
/// and reloads it when its files change on disk (see the module docs).
#[derive(Debug)]
pub struct ReloadingCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: ArcSwap<CertifiedKey>,
    check: Mutex<Check>,
}

impl ReloadingCert {
    /// Load the pair now; it is an error to start without a usable certificate.
    ///
    /// # Errors
    /// See [`load_certified_key`].
    pub fn open(cert_path: &Path, key_path: &Path) -> Result<Self, CertError> {
        let stamp = Stamp::read(cert_path, key_path);
        let key = load_certified_key(cert_path, key_path)?;
        Ok(Self {
            cert_path: cert_path.to_owned(),
            key_path: key_path.to_owned(),
            current: ArcSwap::from_pointee(key),
            check: Mutex::new(Check {
                last_check: Instant::now(),
                stamp,
            }),
        })
    }

    /// The certificate chain in service (leaf first).
    pub fn current(&self) -> Arc<CertifiedKey> {
        self.current.load_full()
    }

    /// Check the files now (ignoring [`RECHECK_INTERVAL`]) and load them if
    /// they changed. Returns whether a new certificate went into service.
    pub fn reload_if_changed(&self) -> bool {
        let Ok(mut check) = self.check.lock() else {
            return false;
        };
        self.reload_locked(&mut check)
    }

    fn reload_locked(&self, check: &mut Check) -> bool {
        check.last_check = Instant::now();
        let stamp = Stamp::read(&self.cert_path, &self.key_path);
        if stamp.is_none() || stamp == check.stamp {
            return false;
        }
        match load_certified_key(&self.cert_path, &self.key_path) {
            Ok(key) => {
                check.stamp = stamp;
                self.current.store(Arc::new(key));
                tracing::info!(cert = %self.cert_path.display(), "TLS certificate reloaded");
                true
            }
            Err(error) => {
                // Keep the old stamp so the next check retries: the renewal
                // may still be writing the second file.
                tracing::warn!(%error, "TLS certificate reload refused; previous certificate kept");
                false
            }
        }
    }

    fn maybe_reload(&self) {
        // A handshake never waits for another one's check.
        let Ok(mut check) = self.check.try_lock() else {
            return;
        };
        if check.last_check.elapsed() >= RECHECK_INTERVAL {
            self.reload_locked(&mut check);
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _client_hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.maybe_reload();
        Some(self.current.load_full())
    }
}

/// A rustls server config for a parapet listener: TLS 1.2 and 1.3 (ring),
/// no client certificates, the given certificate resolver and ALPN ids.
///
/// # Errors
/// Only if the provider cannot offer the default protocol versions.
pub fn server_config(
    certs: Arc<dyn ResolvesServerCert>,
    alpn: &[&[u8]],
) -> Result<ServerConfig, rustls::Error> {
    let mut config = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(certs);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::testutil::{TestCert, write_pair};

    #[test]
    fn loads_a_matching_pair() {
        let dir = tempfile::tempdir().unwrap();
        let a = TestCert::new(&["dns.example.org"]);
        let (c, k) = write_pair(dir.path(), &a);
        let key = load_certified_key(&c, &k).unwrap();
        assert_eq!(key.cert[0].as_ref(), a.der());
    }

    #[test]
    fn refuses_a_key_from_another_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let a = TestCert::new(&["a.example"]);
        let b = TestCert::new(&["b.example"]);
        let (c, _) = write_pair(dir.path(), &a);
        let kb = dir.path().join("other-key.pem");
        fs::write(&kb, b.key_pem()).unwrap();
        let err = load_certified_key(&c, &kb).unwrap_err();
        assert!(matches!(err, CertError::Mismatch { .. }), "{err}");
    }

    #[test]
    fn missing_or_empty_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let a = TestCert::new(&["a.example"]);
        let (c, k) = write_pair(dir.path(), &a);
        let missing = dir.path().join("nope.pem");
        let err = load_certified_key(&missing, &k).unwrap_err();
        assert!(err.to_string().starts_with("server.tls_cert"), "{err}");
        let empty = dir.path().join("empty.pem");
        fs::write(&empty, "not pem\n").unwrap();
        assert!(matches!(
            load_certified_key(&empty, &k).unwrap_err(),
            CertError::Cert { .. }
        ));
        assert!(matches!(
            load_certified_key(&c, &empty).unwrap_err(),
            CertError::Key { .. }
        ));
    }

    #[test]
    fn reloads_changed_files_and_keeps_the_old_pair_on_a_bad_one() {
        let dir = tempfile::tempdir().unwrap();
        let a = TestCert::new(&["dns.example.org"]);
        let (c, k) = write_pair(dir.path(), &a);
        let certs = ReloadingCert::open(&c, &k).unwrap();
        assert!(!certs.reload_if_changed(), "nothing changed yet");

        // Half a renewal: new certificate, old key. Refused, old one serves.
        let b = TestCert::new(&["dns.example.org"]);
        fs::write(&c, b.cert_pem()).unwrap();
        assert!(!certs.reload_if_changed());
        assert_eq!(certs.current().cert[0].as_ref(), a.der());

        // The key arrives: the new pair goes into service.
        fs::write(&k, b.key_pem()).unwrap();
        assert!(certs.reload_if_changed());
        assert_eq!(certs.current().cert[0].as_ref(), b.der());
    }
}
