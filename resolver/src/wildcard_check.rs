//! Does the DoT certificate cover the token names?
//!
//! A DoT client with an access token names the server `TOKEN.dns.example.org`
//! (Android Private DNS, Apple profiles with `--dot`), so the certificate
//! must cover `*.dns.example.org` as well as `dns.example.org`, and the DNS
//! must point `*.dns.example.org` at the server (README "Phones away from
//! home"). `parapet check-config` prints what this finds; it is a warning,
//! not an error: DoH carries its token in the path and needs no wildcard.

use std::path::Path;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

use crate::Config;

/// A label no real token has, to ask "is a name under N covered?".
const PROBE_LABEL: &str = "parapet-token-probe";

/// The warnings for `config`: one per name its DoT certificate covers
/// without covering the names under it. Empty when DoT is off or every name
/// has its wildcard. A certificate that cannot be read is the config
/// validation's business, not reported here.
pub(crate) fn dot_token_warnings(config: &Config) -> Vec<String> {
    let server = &config.server;
    let Some(cert) = server.tls_cert.as_deref() else {
        return Vec::new();
    };
    if server.tls_listen.is_empty() {
        return Vec::new();
    }
    let Ok(names) = names_without_wildcard(cert) else {
        return Vec::new();
    };
    names
        .iter()
        .map(|name| {
            format!(
                "warning: server.tls_cert ({}) covers {name} but not *.{name}: DoT clients \
                 with a token connect to TOKEN.{name} and will fail. Get a certificate for both \
                 (certbot certonly --manual --preferred-challenges dns -d {name} -d '*.{name}') \
                 and a DNS record *.{name} pointing at this server.",
                cert.display()
            )
        })
        .collect()
}

/// The DNS names in the leaf certificate of the PEM file `cert_path` (not
/// themselves wildcards) whose subdomains the certificate does not cover.
///
/// # Errors
/// The file cannot be read or holds no valid certificate.
pub(crate) fn names_without_wildcard(cert_path: &Path) -> Result<Vec<String>, String> {
    let leaf = CertificateDer::pem_file_iter(cert_path)
        .map_err(|e| e.to_string())?
        .next()
        .ok_or_else(|| "no PEM certificate in the file".to_string())?
        .map_err(|e| e.to_string())?;
    let cert = webpki::EndEntityCert::try_from(&leaf).map_err(|e| e.to_string())?;
    let names: Vec<String> = cert
        .valid_dns_names()
        .filter(|n| !n.starts_with("*."))
        .map(str::to_ascii_lowercase)
        .collect();
    Ok(names
        .into_iter()
        .filter(|name| {
            !crate::transport::sni::covers(leaf.as_ref(), &format!("{PROBE_LABEL}.{name}"))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::{dot_token_warnings, names_without_wildcard};
    use crate::transport::testutil::{TestCert, write_pair};

    /// A config with DoT (`dot`) or only DoH on a certificate for `names`,
    /// its files in a new temporary directory.
    fn config(names: &[&str], dot: bool) -> (tempfile::TempDir, crate::Config) {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), &TestCert::new(names));
        std::fs::write(dir.path().join("list.txt"), "phishing.example\n").unwrap();
        let listener = if dot { "tls_listen" } else { "https_listen" };
        let text = format!(
            "[server]\nlisten = [\"127.0.0.1:0\"]\n{listener} = [\"127.0.0.1:0\"]\n\
             tls_cert = {cert:?}\ntls_key = {key:?}\n[upstream]\nservers = [\"127.0.0.1:53\"]\n\
             [blocklist]\nsources = [\"list.txt\"]\n"
        );
        let config = crate::config::from_toml_str(&text, dir.path()).unwrap();
        (dir, config)
    }

    #[test]
    fn check_config_warns_only_for_dot_without_the_wildcard() {
        let warnings = dot_token_warnings(&config(&["dns.example.org"], true).1);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("covers dns.example.org but not *.dns.example.org"),
            "{warnings:?}"
        );
        let both = ["dns.example.org", "*.dns.example.org"];
        assert!(dot_token_warnings(&config(&both, true).1).is_empty());
        // DoH carries its token in the path: no wildcard needed.
        assert!(dot_token_warnings(&config(&["dns.example.org"], false).1).is_empty());
    }

    fn gaps(names: &[&str]) -> Vec<String> {
        let cert = TestCert::new(names);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cert.pem");
        std::fs::write(&path, cert.cert_pem()).unwrap();
        names_without_wildcard(&path).unwrap()
    }

    #[test]
    fn a_name_without_its_wildcard_is_reported() {
        assert_eq!(gaps(&["dns.example.org"]), ["dns.example.org"]);
        assert_eq!(
            gaps(&["dns.example.org", "*.other.example.org"]),
            ["dns.example.org"]
        );
    }

    #[test]
    fn a_name_with_its_wildcard_is_fine() {
        assert!(gaps(&["dns.example.org", "*.dns.example.org"]).is_empty());
        assert!(gaps(&["*.dns.example.org"]).is_empty());
    }

    #[test]
    fn a_file_without_a_certificate_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cert.pem");
        std::fs::write(&path, "not a certificate\n").unwrap();
        assert!(names_without_wildcard(&path).is_err());
        assert!(names_without_wildcard(&dir.path().join("missing.pem")).is_err());
    }
}
