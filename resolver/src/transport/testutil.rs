//! Certificates made in tests (rcgen) and helpers to write them.

use std::path::{Path, PathBuf};

/// A self-signed certificate and its key.
pub(crate) struct TestCert {
    cert: rcgen::Certificate,
    key: rcgen::KeyPair,
}

impl TestCert {
    /// A self-signed certificate for `names`.
    pub(crate) fn new(names: &[&str]) -> Self {
        let key = rcgen::KeyPair::generate().unwrap();
        let params =
            rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { cert, key }
    }

    pub(crate) fn der(&self) -> &[u8] {
        self.cert.der()
    }

    pub(crate) fn cert_pem(&self) -> String {
        self.cert.pem()
    }

    pub(crate) fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }
}

/// Write `cert.pem` and `key.pem` into `dir`.
pub(crate) fn write_pair(dir: &Path, cert: &TestCert) -> (PathBuf, PathBuf) {
    let c = dir.join("cert.pem");
    let k = dir.join("key.pem");
    std::fs::write(&c, cert.cert_pem()).unwrap();
    std::fs::write(&k, cert.key_pem()).unwrap();
    (c, k)
}
