//! TLS client settings for `tls://` and `https://` upstreams.

use std::{path::Path, sync::Arc};

use rustls::ClientConfig;

/// TLS for `tls://` and `https://` upstreams: trusts only the CA
/// certificates in `ca_file` (`[upstream] ca_file`) when it is set, the web
/// PKI roots (Mozilla's, built in) otherwise. Each transport sets its own
/// ALPN on a copy.
///
/// # Errors
/// An unreadable `ca_file`, bad PEM, or no certificate in it.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, String> {
    let roots = match ca_file {
        Some(path) => load_roots(path)?,
        None => rustls::RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
    };
    let config = ClientConfig::builder_with_provider(crate::transport::certs::provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A copy of `config` that offers `alpn`.
pub(crate) fn with_alpn(config: &ClientConfig, alpn: &[&[u8]]) -> Arc<ClientConfig> {
    let mut config = config.clone();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Arc::new(config)
}

/// The CA certificates in a PEM file (`[upstream] ca_file`).
///
/// # Errors
/// An unreadable file, bad PEM, or no certificate in it.
pub fn load_roots(path: &std::path::Path) -> Result<rustls::RootCertStore, String> {
    use rustls_pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(format!("{}: no usable CA certificate", path.display()));
    }
    Ok(roots)
}
