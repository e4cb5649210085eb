//! The list formats: detection and one line parser per format.
//!
//! Each parser turns one line into zero or more [`RawRule`]s. A line is a
//! comment, an ignored (not DNS-relevant) line, rules, or an error: a bad
//! line never stops the compile.

use std::str::FromStr;

use crate::rule::RawRule;
use line::{LineResult, is_ip_or_net};

mod adblock;
mod dnsmasq;
mod domains;
mod hosts;
mod ip;
mod line;
mod rpz;
mod urls;

pub(crate) use line::Kind;
pub(crate) use urls::is_shared_host;
pub use urls::url_host;

/// A list format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// hosts file: `0.0.0.0 name [name…]`.
    Hosts,
    /// One domain per line.
    Domains,
    /// Adblock/AdGuard DNS subset: `||name^`, `@@||name^`.
    Adblock,
    /// RPZ zone file.
    Rpz,
    /// dnsmasq `address=/name/…`, `local=/name/`, `server=/name/`.
    Dnsmasq,
    /// IP addresses and CIDR ranges.
    Ip,
    /// URLs (OpenPhish, URLhaus URL lists, PhishTank CSV): each URL's host,
    /// never a shared host or a public suffix. Only when named: never
    /// detected.
    Urls,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "hosts" => Format::Hosts,
            "domains" | "plain" => Format::Domains,
            "adblock" | "abp" | "adguard" => Format::Adblock,
            "rpz" => Format::Rpz,
            "dnsmasq" => Format::Dnsmasq,
            "ip" | "ips" | "cidr" => Format::Ip,
            "urls" | "url" => Format::Urls,
            other => {
                return Err(format!(
                    "unknown list format {other:?} (hosts, domains, adblock, rpz, dnsmasq, ip, urls)"
                ));
            }
        })
    }
}

impl Format {
    /// The canonical lowercase name (`hosts`, `domains`, …).
    pub fn name(self) -> &'static str {
        match self {
            Format::Hosts => "hosts",
            Format::Domains => "domains",
            Format::Adblock => "adblock",
            Format::Rpz => "rpz",
            Format::Dnsmasq => "dnsmasq",
            Format::Ip => "ip",
            Format::Urls => "urls",
        }
    }

    /// Guess the format of a list from its first meaningful lines. Never
    /// guesses [`Format::Urls`].
    pub fn detect(text: &str) -> Format {
        let mut votes = [0usize; 7];
        let mut seen = 0;
        for line in text.lines().take(5000) {
            let line = line.trim_start_matches('\u{feff}').trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            if line.starts_with('!') || line.to_ascii_lowercase().starts_with("[adblock") {
                votes[2] += 1;
                continue;
            }
            let guess = guess_line(line);
            votes[guess as usize] += 1;
            seen += 1;
            if seen >= 100 {
                break;
            }
        }
        const ORDER: [Format; 6] = [
            Format::Hosts,
            Format::Domains,
            Format::Adblock,
            Format::Rpz,
            Format::Dnsmasq,
            Format::Ip,
        ];
        let mut best = Format::Domains;
        let mut best_votes = 0;
        for f in ORDER {
            if votes[f as usize] > best_votes {
                best = f;
                best_votes = votes[f as usize];
            }
        }
        best
    }
}

fn guess_line(line: &str) -> Format {
    if line.starts_with("||")
        || line.starts_with("@@")
        || line.ends_with('^')
        || line.contains("^$")
    {
        return Format::Adblock;
    }
    if ["address=/", "local=/", "server=/"]
        .iter()
        .any(|p| line.starts_with(p))
    {
        return Format::Dnsmasq;
    }
    let mut tokens = line.split_whitespace();
    let first = tokens.next().unwrap_or("");
    if first.starts_with('$') {
        return Format::Rpz;
    }
    let rest: Vec<&str> = tokens.take(4).collect();
    if rest
        .iter()
        .any(|t| t.eq_ignore_ascii_case("CNAME") || t.eq_ignore_ascii_case("SOA"))
        || first.eq_ignore_ascii_case("NS")
    {
        return Format::Rpz;
    }
    if is_ip_or_net(first) {
        let second = rest.first().copied().unwrap_or("#");
        if second.starts_with('#') || second.starts_with(';') || second.parse::<u64>().is_ok() {
            return Format::Ip;
        }
        return Format::Hosts;
    }
    Format::Domains
}

/// A stateful line parser for one source.
#[derive(Debug)]
pub(crate) struct Parser {
    format: Format,
    rpz: rpz::State,
}

impl Parser {
    pub(crate) fn new(format: Format) -> Self {
        Parser {
            format,
            rpz: rpz::State::default(),
        }
    }

    /// Parse one line (without its line end) into `out`.
    pub(crate) fn parse_line(&mut self, line: &str, out: &mut Vec<RawRule>) -> LineResult {
        match self.format {
            // A bare name in a hosts file is read as a domain line.
            Format::Hosts => hosts::parse(line, out).unwrap_or_else(|| domains::parse(line, out)),
            Format::Domains => domains::parse(line, out),
            Format::Adblock => adblock::parse(line, out),
            Format::Rpz => self.rpz.parse(line, out),
            Format::Dnsmasq => dnsmasq::parse(line, out),
            Format::Ip => ip::parse(line, out),
            Format::Urls => urls::parse(line, out),
        }
    }
}

#[cfg(test)]
pub(crate) mod test_util {
    use super::*;
    use crate::rule::Target;
    use crate::rule::{Action, Scope};

    /// Parse one line with a fresh parser; render rules as `action scope target`.
    pub(crate) fn parse(format: Format, line: &str) -> (LineResult, Vec<String>) {
        let mut p = Parser::new(format);
        let mut out = Vec::new();
        let r = p.parse_line(line, &mut out);
        (r, out.iter().map(render).collect())
    }

    pub(crate) fn render(r: &RawRule) -> String {
        let a = match r.action {
            Action::Block => "block",
            Action::Allow => "allow",
        };
        let s = match r.scope {
            Scope::Subtree => "subtree",
            Scope::Exact => "exact",
            Scope::Below => "below",
            Scope::Ip => "ip",
        };
        let t = match &r.target {
            Target::Name(n) => n.clone(),
            Target::Ip(net) => net.to_string(),
        };
        format!("{a} {s} {t}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format() {
        let cases = [
            (
                "# c\n0.0.0.0 evil.example\n127.0.0.1 x.example\n",
                Format::Hosts,
            ),
            ("# c\nevil.example\nx.example\n", Format::Domains),
            ("[Adblock Plus]\n! c\n||evil.example^\n", Format::Adblock),
            (
                "$TTL 3600\n@ SOA localhost. root.localhost. 1 2 3 4 5\n  NS localhost.\nevil.example CNAME .\n",
                Format::Rpz,
            ),
            ("local=/evil.example/\n", Format::Dnsmasq),
            ("# c\n192.0.2.1\n198.51.100.0/24\n", Format::Ip),
            ("1.2.3.4\t5\n", Format::Ip),
        ];
        for (text, f) in cases {
            assert_eq!(Format::detect(text), f, "{text:?}");
        }
    }
}

#[cfg(test)]
mod quirky;
