//! The warning page's words in a terminal (`parapet explain`), and the
//! look-alike lookup the page shares.

use parapet_blocklist::{Blocklist, Verdict};

use super::config::WarningPageConfig;
use super::{host, notice};
use crate::lookalike::{self, Lookalikes};

/// Explain in plain text what the list does with `name` (a site name, a
/// URL, or an IP address): for a blocked name, the same words as the warning
/// page; otherwise one line saying it is not blocked, or which exception
/// allows it.
pub fn explain(lists: &Blocklist, name: &str, config: &WarningPageConfig) -> String {
    explain_with(lists, None, name, config)
}

/// [`explain`], also checking look-alikes of the protected domains.
pub fn explain_with(
    lists: &Blocklist,
    lookalikes: Option<&Lookalikes>,
    name: &str,
    config: &WarningPageConfig,
) -> String {
    let input = strip_url(name.trim());
    let notice = match host::Host::parse(Some(input.as_bytes())) {
        host::Host::Name(host) if host.ascii == crate::answer::CANARY_NAME => notice::canary(&host),
        host::Host::Name(host) if crate::reserved::of_host(&host.ascii).is_some() => {
            crate::reserved::explain(&host, config)
        }
        host::Host::Name(host) => match lists.check_name(&host.ascii) {
            Verdict::None if let Some(imitates) = imitated(lookalikes, &host.ascii) => {
                notice::blocked(&host, &lookalike::config::rule_info(&imitates), config)
            }
            Verdict::Block(rule) => {
                notice::blocked(&host, &lists.rule_info(rule, &host.ascii), config)
            }
            Verdict::Allow(rule) => {
                notice::not_blocked(&host, Some(&lists.rule_info(rule, &host.ascii)))
            }
            Verdict::None => notice::not_blocked(&host, None),
        },
        host::Host::Ip(ip) => {
            let query = ip.to_string();
            match lists.check_ip(ip) {
                Verdict::Block(rule) => {
                    notice::ip_checked(ip, Some(&lists.rule_info(rule, &query)), None)
                }
                Verdict::Allow(rule) => {
                    notice::ip_checked(ip, None, Some(&lists.rule_info(rule, &query)))
                }
                Verdict::None => notice::ip_checked(ip, None, None),
            }
        }
        host::Host::Invalid(shown) => notice::not_a_name(&shown),
        host::Host::Missing => notice::not_a_name(""),
    };
    notice.to_text()
}

/// The protected domain `ascii` imitates, if any.
pub(crate) fn imitated(lookalikes: Option<&Lookalikes>, ascii: &str) -> Option<String> {
    let labels = ascii.trim_end_matches('.').split('.').map(str::as_bytes);
    Some(lookalikes?.check(labels)?.imitates.to_string())
}

/// `https://evil.example/login?x` → `evil.example`: people paste links.
fn strip_url(input: &str) -> &str {
    let rest = input.split_once("://").map_or(input, |(_, rest)| rest);
    let rest = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    rest.rsplit_once('@').map_or(rest, |(_, host)| host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_url_keeps_the_host() {
        assert_eq!(strip_url("https://evil.example/login?x=1"), "evil.example");
        assert_eq!(
            strip_url("http://user@evil.example:8080/"),
            "evil.example:8080"
        );
        assert_eq!(strip_url("evil.example"), "evil.example");
        assert_eq!(strip_url("[::1]:80"), "[::1]:80");
    }

    fn list_of(text: &str, allow: bool) -> Blocklist {
        use parapet_blocklist::{CompileOptions, Compiler, SourceSpec};
        let mut compiler = Compiler::new(CompileOptions::default());
        let mut spec = SourceSpec::new("l.txt");
        spec.allow = allow;
        compiler
            .add_reader(&spec, text.as_bytes())
            .expect("list parses");
        Blocklist::from_bytes(compiler.to_bytes().expect("compiles")).expect("loads")
    }

    #[test]
    fn the_canary_is_nxdomain_whatever_the_lists_say() {
        let config = WarningPageConfig::default();
        for list in [
            crate::reload::empty().expect("empty list"),
            list_of("use-application-dns.net\n", true),
            list_of("use-application-dns.net\n", false),
        ] {
            for name in ["use-application-dns.net", "USE-Application-DNS.net."] {
                let text = explain(&list, name, &config);
                let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
                assert!(
                    flat.starts_with("use-application-dns.net is Firefox's DNS-over-HTTPS canary: always answered NXDOMAIN"),
                    "{name}: {text}"
                );
            }
        }
        // Names under it go through the lists, as the server does.
        let text = explain(
            &crate::reload::empty().expect("empty"),
            "x.use-application-dns.net",
            &config,
        );
        assert!(
            text.contains("is not blocked by the list in service"),
            "{text}"
        );
    }
}
