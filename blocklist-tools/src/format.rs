use std::str::FromStr;

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
            other => {
                return Err(format!(
                    "unknown list format {other:?} (hosts, domains, adblock, rpz, dnsmasq, ip)"
                ));
            }
        })
    }
}
