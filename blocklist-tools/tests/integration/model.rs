//! Property test: the compiled FST matcher agrees with a naive reference (a
//! rule table walked suffix by suffix, same precedence rules), for names and
//! for IPs. Name rules come from two adblock lists, an RPZ zone (exact
//! rules) and an allowlist: an exception cancels its own list's blocks
//! only, the allowlist's rules allow across lists.

use std::io::Cursor;
use std::net::{IpAddr, Ipv4Addr};

use parapet_blocklist::{Action, Blocklist, CompileOptions, Compiler, Format, SourceSpec, Verdict};
use proptest::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Sc {
    Subtree,
    Exact,
    Below,
}

#[derive(Debug, Clone)]
struct NameRule {
    labels: Vec<String>,
    scope: Sc,
    allow: bool,
    /// 0 and 1: adblock lists, 2: the RPZ zone (exact rules), 3: the allowlist.
    source: usize,
}

/// The model's allowlist source.
const ALLOWLIST: usize = 3;

fn label() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("a"),
        Just("b"),
        Just("ab"),
        Just("x-1"),
        Just("_s"),
        Just("a0")
    ]
    .prop_map(str::to_string)
}

fn name_rule() -> impl Strategy<Value = NameRule> {
    (
        prop::collection::vec(label(), 1..4),
        prop_oneof![Just(Sc::Subtree), Just(Sc::Exact), Just(Sc::Below)],
        any::<bool>(),
        prop_oneof![Just(0usize), Just(1), Just(ALLOWLIST)],
    )
        .prop_map(|(labels, scope, allow, source)| {
            let source = if scope == Sc::Exact { 2 } else { source };
            NameRule {
                labels,
                scope,
                allow: allow || source == ALLOWLIST,
                source,
            }
        })
}

fn build(names: &[NameRule], nets: &[(u8, u8, bool)]) -> Blocklist {
    let mut text: [String; 4] = Default::default();
    let (mut ip_block, mut ip_allow) = (String::new(), String::new());
    for r in names {
        let name = r.labels.join(".");
        let line = match (r.scope, r.allow) {
            (_, true) if r.source == ALLOWLIST => match r.scope {
                Sc::Below => format!("*.{name}\n"),
                _ => format!("{name}\n"),
            },
            (Sc::Subtree, false) => format!("||{name}^\n"),
            (Sc::Subtree, true) => format!("@@||{name}^\n"),
            (Sc::Below, false) => format!("||*.{name}^\n"),
            (Sc::Below, true) => format!("@@||*.{name}^\n"),
            (Sc::Exact, false) => format!("{name} CNAME .\n"),
            (Sc::Exact, true) => format!("{name} CNAME rpz-passthru.\n"),
        };
        text[r.source].push_str(&line);
    }
    let [a, b, rpz, allowlist] = text;
    for (last, prefix, allow) in nets {
        let line = format!("10.0.0.{last}/{prefix}\n");
        if *allow {
            ip_allow.push_str(&line)
        } else {
            ip_block.push_str(&line)
        }
    }
    let mut c = Compiler::new(CompileOptions {
        force_public_suffix: true,
    });
    for (name, format, text, allow) in [
        ("a.txt", Format::Adblock, a, false),
        ("b.txt", Format::Adblock, b, false),
        ("r.rpz", Format::Rpz, rpz, false),
        ("allow.txt", Format::Domains, allowlist, true),
        ("ip.txt", Format::Ip, ip_block, false),
        ("ipallow.txt", Format::Ip, ip_allow, true),
    ] {
        let mut spec = SourceSpec::new(name);
        spec.format = Some(format);
        spec.allow = allow;
        let report = c.add_reader(&spec, Cursor::new(text)).unwrap();
        assert_eq!(report.skipped, 0, "{:?}", report.errors);
    }
    Blocklist::from_bytes(c.to_bytes().unwrap()).unwrap()
}

/// Reference: (allow?, depth of the deciding rule). Per list, its most
/// specific covering rule (an exception winning ties); the most specific
/// surviving block or allowlist rule decides, allow winning ties; else an
/// exception that cancelled a block of its own list.
fn reference_name(rules: &[NameRule], query: &[String]) -> Option<(bool, usize)> {
    let n = query.len();
    let covering = |r: &NameRule| {
        let d = r.labels.len();
        let ok = d <= n
            && r.labels.as_slice() == &query[n - d..]
            && match r.scope {
                Sc::Subtree => true,
                Sc::Exact => d == n,
                Sc::Below => d < n,
            };
        ok.then_some(d)
    };
    let (mut block, mut global, mut local) = (None, None, None);
    for source in 0..=ALLOWLIST {
        let cov: Vec<(usize, bool)> = rules
            .iter()
            .filter(|r| r.source == source)
            .filter_map(|r| covering(r).map(|d| (d, r.allow)))
            .collect();
        let Some(best) = cov.iter().map(|c| c.0).max() else {
            continue;
        };
        let allowed = cov.iter().any(|c| c.0 == best && c.1);
        let slot = if source == ALLOWLIST {
            &mut global
        } else if !allowed {
            &mut block
        } else if cov.iter().any(|c| !c.1) {
            &mut local
        } else {
            continue;
        };
        *slot = Some(slot.map_or(best, |d: usize| d.max(best)));
    }
    match (block, global) {
        (Some(b), Some(g)) if g >= b => Some((true, g)),
        (Some(b), _) => Some((false, b)),
        (None, Some(g)) => Some((true, g)),
        (None, None) => local.map(|d| (true, d)),
    }
}

fn reference_ip(nets: &[(u8, u8, bool)], ip: u8) -> Option<bool> {
    let covers = |last: u8, prefix: u8| {
        let mask = (u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0) & 0xFF) as u8;
        ip & mask == last & mask
    };
    let best = nets
        .iter()
        .filter(|(l, p, _)| covers(*l, *p))
        .map(|(_, p, _)| *p)
        .max()?;
    Some(
        nets.iter()
            .any(|(l, p, a)| *p == best && *a && covers(*l, *p)),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]
    #[test]
    fn matcher_agrees_with_reference(
        rules in prop::collection::vec(name_rule(), 0..25),
        queries in prop::collection::vec((prop::collection::vec(label(), 1..6), any::<bool>()), 1..30),
        nets in prop::collection::vec((any::<u8>(), 24u8..=32, any::<bool>()), 0..12),
        ips in prop::collection::vec(any::<u8>(), 1..20),
    ) {
        let bl = build(&rules, &nets);
        for (labels, upper) in &queries {
            let mut text = labels.join(".");
            if *upper {
                text = text.to_ascii_uppercase() + ".";
            }
            let got = match bl.check_name(&text) {
                Verdict::None => None,
                Verdict::Block(r) | Verdict::Allow(r) => {
                    let pattern = bl.rule_info(r, &text).pattern;
                    let depth = pattern.trim_start_matches(['=', '*']).trim_start_matches('.').split('.').count();
                    Some((r.action() == Action::Allow, depth))
                }
            };
            prop_assert_eq!(got, reference_name(&rules, labels), "query {}", text);
            let wire: Vec<&[u8]> = text.trim_end_matches('.').split('.').map(str::as_bytes).collect();
            prop_assert_eq!(bl.check_labels(wire.iter().copied()), bl.check_name(&text));
        }
        for last in ips {
            let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, last));
            let got = match bl.check_ip(ip) {
                Verdict::None => None,
                v => Some(matches!(v, Verdict::Allow(_))),
            };
            prop_assert_eq!(got, reference_ip(&nets, last), "ip {}", ip);
        }
        prop_assert!(bl.check_ip("10.0.1.0".parse().unwrap()) == Verdict::None);
    }
}
