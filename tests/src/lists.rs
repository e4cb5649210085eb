//! The default test lists written into each test instance's directory.
//! They use the names of [`crate::upstream::test_zone`].

/// `phishing.txt`: hosts format, category `phishing`.
pub const PHISHING: &str =
    "# test phishing list\n0.0.0.0 phishing.example\n0.0.0.0 login-bank.example\n";
/// `malware.txt`: plain domains, category `malware`.
pub const MALWARE: &str = "# test malware list\nmalware.test\n";
/// `allow.txt`: allow exceptions.
pub const ALLOW: &str = "safe.phishing.example\n";
/// `ips.txt`: IP rules.
pub const IPS: &str = "203.0.113.66\n2001:db8:bad::/48\n";

/// The `[blocklist]` section that uses the files above.
pub const SOURCES_SECTION: &str = r#"sources = [
  { path = "phishing.txt", category = "phishing" },
  { path = "malware.txt", category = "malware" },
  { path = "allow.txt", allow = true },
  "ip:ips.txt",
]"#;

/// `(file name, contents)` of every default list.
pub fn default_files() -> Vec<(String, Vec<u8>)> {
    [
        ("phishing.txt", PHISHING),
        ("malware.txt", MALWARE),
        ("allow.txt", ALLOW),
        ("ips.txt", IPS),
    ]
    .into_iter()
    .map(|(n, c)| (n.to_string(), c.as_bytes().to_vec()))
    .collect()
}
