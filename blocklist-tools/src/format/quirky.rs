//! Every line of `messy/real_quirky_lines.tsv` through the parser of its
//! source's format: no panic, and the rules it yields respect the quirk.

use super::{Format, Kind, Parser};
use crate::rule::{RawRule, Target};

fn format_of(source: &str) -> Format {
    match source.split('/').next().unwrap_or("") {
        "adblock" => Format::Adblock,
        "hosts" => Format::Hosts,
        "ips" => Format::Ip,
        "rpz" => Format::Rpz,
        "dnsmasq" => Format::Dnsmasq,
        _ => Format::Domains, // maltrail:*, domains/*
    }
}

fn names(rules: &[RawRule]) -> Vec<&str> {
    rules
        .iter()
        .filter_map(|r| match &r.target {
            Target::Name(n) => Some(n.as_str()),
            Target::Ip(_) => None,
        })
        .collect()
}

#[test]
fn real_quirky_lines() {
    let path = crate::data_dir().join("messy/real_quirky_lines.tsv");
    if parapet_test_support::data(&path, "real_quirky_lines").is_none() {
        return;
    }
    let text = std::fs::read_to_string(&path).expect("read the quirky lines");
    let mut checked = 0;
    for row in text.lines().skip(1) {
        let mut cols = row.splitn(3, '\t');
        let (Some(category), Some(source), Some(line)) = (cols.next(), cols.next(), cols.next())
        else {
            continue;
        };
        let mut rules = Vec::new();
        let result = Parser::new(format_of(source)).parse_line(line, &mut rules);
        let names = names(&rules);
        for n in &names {
            assert!(
                n.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b)),
                "{category}: {line:?} gave {n:?}"
            );
            assert!(
                !n.ends_with('.') && !n.is_empty() && n.len() <= 253,
                "{line:?} gave {n:?}"
            );
        }
        let why = format!("{category} {source}: {line:?} -> {result:?} {names:?}");
        match category {
            "ip_literal" | "url_with_path" | "overlong_label"
                if format_of(source) == Format::Domains =>
            {
                assert!(names.is_empty(), "{why}")
            }
            "punycode_idn" | "underscore" | "uppercase" if !line.trim_start().starts_with('#') => {
                assert_eq!(result, Ok(Kind::Rules), "{why}")
            }
            "underscore" => assert!(names.iter().all(|n| !n.contains('#')), "{why}"),
            "bom" => assert_eq!(result, Ok(Kind::Comment), "{why}"),
            "ipv6_literal" if format_of(source) == Format::Ip => {
                assert!(
                    matches!(rules.first().map(|r| &r.target), Some(Target::Ip(_))),
                    "{why}"
                )
            }
            "regex_or_wildcard" => assert!(names.iter().all(|n| !n.contains('*')), "{why}"),
            "inline_comment" => assert!(names.iter().all(|n| !n.contains('#')), "{why}"),
            _ => {}
        }
        checked += 1;
    }
    assert!(checked > 600, "only {checked} lines checked");
}
