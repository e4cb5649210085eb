//! One public address for DoH and the sinkhole.
//!
//! On a VPS with one public address, the DoH name (`dns.example.org`) and the
//! sinkhole address are the same machine, so a sinkholed `https://` visit
//! to a blocked name arrives at the DoH listener on port 443. Finishing the
//! handshake would show the browser a certificate-name error after a round
//! trip; instead the listener reads the ClientHello first (rustls'
//! [`Acceptor`], before any answer is sent) and:
//!
//! - no server name (clients that connect by IP address), or a name the
//!   certificate in service covers (`dns.example.org`, `TOKEN.dns.example.org`
//!   under `*.dns.example.org`): the handshake goes on and DoH is served;
//! - any other name (a browser sent here by a sinkhole answer): the TCP
//!   connection is reset at once (`SO_LINGER` 0, as the warning page's TLS
//!   port does), so the browser shows `ERR_CONNECTION_RESET` at once.
//!
//! A client that names a host the certificate does not cover would fail
//! the handshake anyway, so no real DoH client is turned away.

use std::{io, sync::Arc};

use rustls::{ServerConfig, server::Acceptor};
use rustls_pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::{LazyConfigAcceptor, server::TlsStream};

/// What became of a connection.
pub enum Accepted {
    /// The handshake finished: serve it.
    Tls(Box<TlsStream<TcpStream>>),
    /// It named a host the certificate does not cover: it was reset.
    Reset(String),
}

/// Read the ClientHello on `tcp`; reset the connection when it names a host
/// the certificate of `tls` does not cover, else finish the handshake.
///
/// # Errors
/// The client sent no valid ClientHello, or the handshake failed.
pub async fn accept(tls: &Arc<ServerConfig>, tcp: TcpStream) -> io::Result<Accepted> {
    let start = LazyConfigAcceptor::new(Acceptor::default(), tcp).await?;
    let hello = start.client_hello();
    if let Some(name) = hello.server_name() {
        let name = name.to_owned();
        let certified = tls.cert_resolver.resolve(start.client_hello());
        let covered = certified.is_some_and(|key| {
            key.cert
                .first()
                .is_some_and(|leaf| covers(leaf.as_ref(), &name))
        });
        if !covered {
            crate::net::reset(start.io);
            return Ok(Accepted::Reset(name));
        }
    }
    let stream = start.into_stream(Arc::clone(tls)).await?;
    Ok(Accepted::Tls(Box::new(stream)))
}

/// Whether the DER certificate `leaf` is valid for the DNS name `name`
/// (exact or under a wildcard), as a client would check it.
pub fn covers(leaf: &[u8], name: &str) -> bool {
    let Ok(server_name) = ServerName::try_from(name) else {
        return false;
    };
    let der = rustls_pki_types::CertificateDer::from(leaf);
    webpki::EndEntityCert::try_from(&der)
        .is_ok_and(|cert| cert.verify_is_valid_for_subject_name(&server_name).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::testutil::TestCert;

    #[test]
    fn names_the_certificate_covers() {
        let cert = TestCert::new(&["dns.example.org", "*.dns.example.org"]);
        for name in [
            "dns.example.org",
            "alice-7f3a.dns.example.org",
            "DNS.example.org",
        ] {
            assert!(covers(cert.der(), name), "{name}");
        }
        for name in [
            "blocked.example",
            "a.b.dns.example.org",
            "example.org",
            "",
            "not a name",
        ] {
            assert!(!covers(cert.der(), name), "{name}");
        }
        assert!(!covers(b"not a certificate", "dns.example.org"));
    }
}
