//! Matching semantics through the public API, on small in-memory lists.

use std::io::Cursor;
use std::net::IpAddr;

use parapet_blocklist::{
    Action, Blocklist, CompileOptions, Compiler, Format, Scope, SourceSpec, Verdict,
};

/// Compile (format, text, allow) sources in memory.
fn compile(sources: &[(Format, &str, bool)]) -> Blocklist {
    let mut c = Compiler::new(CompileOptions::default());
    for (i, (format, text, allow)) in sources.iter().enumerate() {
        let mut spec = SourceSpec::new(format!("src{i}.txt"));
        spec.format = Some(*format);
        spec.allow = *allow;
        spec.category = Some(format!("cat{i}"));
        c.add_reader(&spec, Cursor::new(text.as_bytes())).unwrap();
    }
    Blocklist::from_bytes(c.to_bytes().unwrap()).unwrap()
}

fn word(v: Verdict) -> &'static str {
    match v {
        Verdict::None => "none",
        Verdict::Block(_) => "block",
        Verdict::Allow(_) => "allow",
    }
}

/// Check `name` as text and as wire labels: both give `want`; returns the
/// text verdict.
fn check_both(bl: &Blocklist, name: &str, want: &str) -> Verdict {
    let v = bl.check_name(name);
    assert_eq!(word(v), want, "{name}");
    let labels: Vec<&[u8]> = name.split('.').map(str::as_bytes).collect();
    assert_eq!(
        word(bl.check_labels(labels.into_iter())),
        want,
        "{name} as labels"
    );
    v
}

#[test]
fn subdomain_of_blocked_name_is_blocked_and_lookalike_is_not() {
    let bl = compile(&[(Format::Domains, "evil.example\n", false)]);
    assert_eq!(word(bl.check_name("evil.example")), "block");
    assert_eq!(word(bl.check_name("www.login.EVIL.example.")), "block");
    assert_eq!(word(bl.check_name("notevil.example")), "none");
    assert_eq!(word(bl.check_name("evil.example.com")), "none");
    assert_eq!(word(bl.check_name("example")), "none");
    assert_eq!(word(bl.check_name("")), "none");
    assert_eq!(word(bl.check_name(".")), "none");
}

#[test]
fn exact_and_below_scopes() {
    let bl = compile(&[(
        Format::Rpz,
        "exact.example CNAME .\n*.below.example CNAME .\n",
        false,
    )]);
    assert_eq!(word(bl.check_name("exact.example")), "block");
    assert_eq!(word(bl.check_name("www.exact.example")), "none");
    assert_eq!(word(bl.check_name("below.example")), "none");
    assert_eq!(word(bl.check_name("a.b.below.example")), "block");
    let Verdict::Block(r) = bl.check_name("x.below.example") else {
        panic!()
    };
    assert_eq!(r.scope(), Scope::Below);
    assert_eq!(
        bl.rule_info(r, "x.below.example").pattern,
        "*.below.example"
    );
    let Verdict::Block(r) = bl.check_name("EXACT.example.") else {
        panic!()
    };
    assert_eq!(bl.rule_info(r, "EXACT.example.").pattern, "=exact.example");
}

#[test]
fn most_specific_rule_wins_and_allow_wins_ties() {
    let bl = compile(&[
        (
            Format::Adblock,
            "||evil.example^\n@@||ok.evil.example^\n||bad.ok.evil.example^\n||tie.example^\n",
            false,
        ),
        (Format::Domains, "tie.example\n", true),
    ]);
    assert_eq!(word(bl.check_name("evil.example")), "block");
    assert_eq!(word(bl.check_name("ok.evil.example")), "allow");
    assert_eq!(word(bl.check_name("www.ok.evil.example")), "allow");
    assert_eq!(word(bl.check_name("bad.ok.evil.example")), "block");
    assert_eq!(word(bl.check_name("x.bad.ok.evil.example")), "block");
    let Verdict::Allow(r) = bl.check_name("www.tie.example") else {
        panic!()
    };
    assert_eq!(r.action(), Action::Allow);
    let info = bl.rule_info(r, "www.tie.example");
    assert_eq!(info.pattern, "tie.example");
    assert_eq!(info.source, "src1.txt");
    assert_eq!(bl.source_of(r).category, Some("cat1"));
}

#[test]
fn wire_labels_any_case() {
    let bl = compile(&[(Format::Hosts, "0.0.0.0 evil.example\n", false)]);
    let labels: [&[u8]; 3] = [b"WWW", b"Evil", b"EXAMPLE"];
    assert!(bl.check_labels(labels.iter().copied()).is_block());
    let dotted: [&[u8]; 2] = [b"x.evil", b"example"];
    assert!(!bl.check_labels(dotted.iter().copied()).is_block());
}

#[test]
fn unicode_names_are_compiled_to_a_labels() {
    let bl = compile(&[(Format::Domains, "bücher.example\n", false)]);
    assert!(bl.check_name("xn--bcher-kva.example").is_block());
    assert!(bl.check_name("www.BÜCHER.example").is_block());
    // Only a deeper label is Unicode: the last two are read as they are.
    assert!(bl.check_name("bücher.xn--bcher-kva.example").is_block());
    assert_eq!(word(bl.check_name("bücher.example.org")), "none");
    assert_eq!(word(bl.check_name("ünï.other.example")), "none");
    // Full stops other than `.` separate labels too (IDNA maps them).
    assert!(bl.check_name("www.bücher。example").is_block());
}

#[test]
fn ip_rules_most_specific_prefix_wins() {
    let bl = compile(&[
        (
            Format::Ip,
            "192.0.2.0/24\n198.51.100.7\n2001:db8::/32\n",
            false,
        ),
        (Format::Ip, "192.0.2.128/25\n", true),
    ]);
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert_eq!(word(bl.check_ip(ip("192.0.2.1"))), "block");
    assert_eq!(word(bl.check_ip(ip("192.0.2.200"))), "allow");
    assert_eq!(word(bl.check_ip(ip("192.0.3.1"))), "none");
    assert_eq!(word(bl.check_ip(ip("198.51.100.7"))), "block");
    assert_eq!(word(bl.check_ip(ip("::ffff:198.51.100.7"))), "block");
    assert_eq!(word(bl.check_ip(ip("198.51.100.8"))), "none");
    assert_eq!(word(bl.check_ip(ip("2001:db8:1::5"))), "block");
    assert_eq!(word(bl.check_ip(ip("2001:db9::1"))), "none");
    let Verdict::Block(r) = bl.check_ip(ip("192.0.2.9")) else {
        panic!()
    };
    assert_eq!(bl.rule_info(r, "192.0.2.9").pattern, "192.0.2.0/24");
    let Verdict::Block(r) = bl.check_ip(ip("198.51.100.7")) else {
        panic!()
    };
    assert_eq!(bl.rule_info(r, "198.51.100.7").pattern, "198.51.100.7");
    assert_eq!(r.scope(), Scope::Ip);
}

#[test]
fn public_suffix_rules_are_refused_unless_forced() {
    let text = "com\ngithub.io\nevil.example\n";
    let mut c = Compiler::new(CompileOptions::default());
    let mut spec = SourceSpec::new("ps.txt");
    spec.format = Some(Format::Domains);
    let report = c.add_reader(&spec, Cursor::new(text)).unwrap().clone();
    assert_eq!((report.domain_rules, report.skipped), (1, 2));
    assert_eq!(report.errors[0].line, 1);
    assert!(
        report.errors[0].reason.contains("public suffix"),
        "{:?}",
        report.errors[0]
    );
    let bl = Blocklist::from_bytes(c.to_bytes().unwrap()).unwrap();
    assert!(!bl.check_name("google.com").is_block());
    assert!(bl.check_name("evil.example").is_block());

    let mut c = Compiler::new(CompileOptions {
        force_public_suffix: true,
    });
    c.add_reader(&spec, Cursor::new(text)).unwrap();
    let bl = Blocklist::from_bytes(c.to_bytes().unwrap()).unwrap();
    assert!(bl.check_name("google.com").is_block());
}

#[test]
fn ip_rules_as_wide_as_the_internet_are_refused() {
    let text = "0.0.0.0/0\n::/0\n128.0.0.0/2\n2000::/3\n224.0.0.0/3\nfc00::/7\n192.0.2.0/24\n";
    let mut c = Compiler::new(CompileOptions::default());
    let mut spec = SourceSpec::new("wide.txt");
    spec.format = Some(Format::Ip);
    let report = c.add_reader(&spec, Cursor::new(text)).unwrap().clone();
    assert_eq!(
        (report.ip_rules, report.skipped),
        (3, 4),
        "{:?}",
        report.errors
    );
    assert!(
        report.errors[0].reason.contains("too wide"),
        "{:?}",
        report.errors[0]
    );
    let bl = Blocklist::from_bytes(c.to_bytes().unwrap()).unwrap();
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    assert!(!bl.check_ip(ip("8.8.8.8")).is_block());
    assert!(!bl.check_ip(ip("2001:db8::1")).is_block());
    assert!(bl.check_ip(ip("192.0.2.9")).is_block());
    assert!(
        bl.check_ip(ip("239.1.2.3")).is_block(),
        "a bogon list's /3 stays"
    );
    assert!(bl.check_ip(ip("fd00::1")).is_block());
}

#[test]
fn stats_and_sources() {
    let bl = compile(&[
        (Format::Domains, "a.example\nb.example\n", false),
        (Format::Ip, "192.0.2.1\n", true),
    ]);
    let s = bl.stats();
    assert_eq!((s.domain_rules, s.ip_rules, s.allow_rules), (2, 1, 1));
    assert_eq!(s.sources.len(), 2);
    assert_eq!(s.sources[0].0, "src0.txt");
    assert_eq!(s.sources[0].1.as_deref(), Some("cat0"));
    assert_eq!(s.sources[0].2.len(), 64);
    assert_eq!(s.sources[0].3, 2);
}

#[test]
fn gzip_sources_and_source_spec_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("list.txt.gz");
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, b"# c\r\nevil.example\r\n").unwrap();
    std::fs::write(&path, gz.finish().unwrap()).unwrap();
    let spec = SourceSpec::parse_cli(&format!("domains:{}", path.display())).unwrap();
    assert_eq!(spec.format, Some(Format::Domains));
    assert_eq!(spec.name, "list.txt.gz");
    let (bl, reports) = Blocklist::compile(&[spec], CompileOptions::default()).unwrap();
    assert_eq!(reports[0].domain_rules, 1);
    assert!(bl.check_name("x.evil.example").is_block());
    let out = dir.path().join("out.pbl");
    let mut c = Compiler::new(CompileOptions::default());
    c.add_source(&SourceSpec::new(&path)).unwrap();
    c.write_file(&out).unwrap();
    assert!(
        Blocklist::open(&out)
            .unwrap()
            .check_name("evil.example")
            .is_block()
    );
    assert_eq!(SourceSpec::parse_cli("some/file.txt").unwrap().format, None);
    assert!(SourceSpec::parse_cli("hosts:").is_err());
}

#[test]
fn names_with_many_labels_still_match() {
    let bl = compile(&[
        (Format::Domains, "evil.example\n", false),
        (Format::Rpz, "x.ok.example CNAME .\n", false),
    ]);
    let deep = format!("{}evil.example", "a.".repeat(40));
    assert!(bl.check_name(&deep).is_block());
    let labels: Vec<&[u8]> = deep.split('.').map(str::as_bytes).collect();
    assert!(bl.check_labels(labels.iter().copied()).is_block());
    assert_eq!(
        word(bl.check_name(&format!("{}ok.example", "a.".repeat(30)))),
        "none"
    );
    let exact_deep = format!("{}x.ok.example", "a.".repeat(20));
    assert_eq!(word(bl.check_name(&exact_deep)), "none");
    assert_eq!(word(bl.check_name("x.ok.example")), "block");
}

#[test]
fn names_under_a_listed_parent_are_decided_by_the_full_walk() {
    // `example.com` is the parent of every rule here but not a rule itself:
    // the filter's two-label test lets these names through, the rest decides.
    let bl = compile(&[
        (
            Format::Domains,
            "deep.evil.example.com\nbad.example.com\n",
            false,
        ),
        (Format::Domains, "ok.bad.example.com\n", true),
    ]);
    for (name, want) in [
        ("example.com", "none"),
        ("good.example.com", "none"),
        ("evil.example.com", "none"),
        ("deep.evil.example.com", "block"),
        ("x.deep.evil.example.com.", "block"),
        ("x..deep.evil.example.com", "block"),
        (".bad.example.com", "block"),
        ("BAD.Example.COM..", "block"),
        ("ok.bad.example.com", "allow"),
        ("bad.example.org", "none"),
        ("bad.example", "none"),
        ("com", "none"),
        ("..", "none"),
    ] {
        check_both(&bl, name, want);
    }
}

#[test]
fn one_label_rules_still_match_when_forced() {
    let mut c = Compiler::new(CompileOptions {
        force_public_suffix: true,
    });
    let mut spec = SourceSpec::new("tld.txt");
    spec.format = Some(Format::Domains);
    c.add_reader(&spec, Cursor::new("zip\nevil.example\n".as_bytes()))
        .unwrap();
    let bl = Blocklist::from_bytes(c.to_bytes().unwrap()).unwrap();
    assert_eq!(word(bl.check_name("anything.zip")), "block");
    assert_eq!(word(bl.check_name("a.b.zip.")), "block");
    assert_eq!(word(bl.check_name("zip")), "block");
    assert_eq!(word(bl.check_name("www.evil.example")), "block");
    assert_eq!(word(bl.check_name("zip.example")), "none");
}

#[test]
fn keys_beyond_the_index_value_table_are_walked_in_the_fst() {
    // The index holds up to 255 distinct rule values; 300 sources give 600
    // (block and allow per source), so most keys are found through the FST.
    let mut c = Compiler::new(CompileOptions::default());
    for i in 0..300 {
        let mut spec = SourceSpec::new(format!("src{i}.txt"));
        spec.format = Some(Format::Adblock);
        let text = format!("||evil{i}.example^\n||x{i}.example^\n@@||ok.x{i}.example^\n");
        c.add_reader(&spec, Cursor::new(text.into_bytes())).unwrap();
    }
    let bl = Blocklist::from_bytes(c.to_bytes().unwrap()).unwrap();
    for i in 0..300 {
        for (name, want) in [
            (format!("evil{i}.example"), "block"),
            (format!("www.evil{i}.example"), "block"),
            (format!("evil{i}.example.org"), "none"),
            (format!("a.ok.x{i}.example"), "allow"),
            (format!("ok.x{i}.example"), "allow"),
            (format!("nok.x{i}.example"), "block"),
        ] {
            if let Some(r) = check_both(&bl, &name, want).rule() {
                assert_eq!(bl.source_of(r).name, format!("src{i}.txt"), "{name}");
            }
        }
    }
}

/// A block list and an adblock list whose exceptions try to unblock it.
const BLOCKS: &str = "evil.example\nphish-login.com\nbank-secure.com\nwww.drop.com\n";
const EXCEPTIONS: &str = "||ads.example^\n@@||evil.example^\n@@||com^\n@@||www.bank-secure.com^\n";

#[test]
fn an_exception_does_not_cross_into_another_list() {
    let mut c = Compiler::new(CompileOptions::default());
    let mut blocks = SourceSpec::new("blocks.txt");
    blocks.format = Some(Format::Domains);
    c.add_reader(&blocks, Cursor::new(BLOCKS)).unwrap();
    let mut adblock = SourceSpec::new("feed.txt");
    adblock.format = Some(Format::Adblock);
    let report = c.add_reader(&adblock, Cursor::new(EXCEPTIONS)).unwrap();
    // `@@||com^` is refused like a public-suffix block, naming its line.
    assert_eq!(report.skipped, 1);
    assert_eq!(report.errors[0].line, 3);
    assert!(report.errors[0].reason.contains("public suffix"));
    let bl = Blocklist::from_bytes(c.to_bytes().unwrap()).unwrap();
    for name in [
        "evil.example",
        "www.evil.example",
        "phish-login.com",
        "bank-secure.com",
        "www.bank-secure.com",
        "www.drop.com",
    ] {
        let v = check_both(&bl, name, "block");
        assert_eq!(bl.rule_info(v.rule().unwrap(), name).source, "blocks.txt");
    }
    check_both(&bl, "ads.example", "block");
    check_both(&bl, "example.com", "none");
}

#[test]
fn an_allowlist_source_allows_across_lists() {
    let mut c = Compiler::new(CompileOptions::default());
    let mut blocks = SourceSpec::new("blocks.txt");
    blocks.format = Some(Format::Domains);
    c.add_reader(&blocks, Cursor::new(BLOCKS)).unwrap();
    let mut allow = SourceSpec::new("allow.txt");
    allow.format = Some(Format::Adblock);
    allow.allow = true;
    let report = c.add_reader(&allow, Cursor::new(EXCEPTIONS)).unwrap();
    assert_eq!(report.skipped, 1, "@@||com^ is still refused");
    let bl = Blocklist::from_bytes(c.to_bytes().unwrap()).unwrap();
    let v = check_both(&bl, "www.evil.example", "allow");
    assert!(bl.allows_across_sources(v.rule().unwrap()));
    assert_eq!(
        bl.rule_info(v.rule().unwrap(), "www.evil.example").pattern,
        "evil.example"
    );
    check_both(&bl, "www.bank-secure.com", "allow");
    check_both(&bl, "bank-secure.com", "block");
    check_both(&bl, "phish-login.com", "block");
}

#[test]
fn an_exception_in_its_own_list_applies_and_says_whose_it_is() {
    let bl = compile(&[
        (
            Format::Adblock,
            "||evil.example^\n@@||ok.evil.example^\n",
            false,
        ),
        (Format::Domains, "other.example\n", false),
    ]);
    let v = check_both(&bl, "www.ok.evil.example", "allow");
    let rule = v.rule().unwrap();
    assert!(!bl.allows_across_sources(rule));
    let info = bl.rule_info(rule, "www.ok.evil.example");
    assert_eq!(
        (info.pattern.as_str(), info.source.as_str()),
        ("ok.evil.example", "src0.txt")
    );
    // The same exception cannot cancel another list's block of that name.
    let bl = compile(&[
        (Format::Adblock, "@@||ok.evil.example^\n", false),
        (Format::Domains, "evil.example\n", false),
    ]);
    let v = check_both(&bl, "www.ok.evil.example", "block");
    let info = bl.rule_info(v.rule().unwrap(), "www.ok.evil.example");
    assert_eq!(
        (info.pattern.as_str(), info.source.as_str()),
        ("evil.example", "src1.txt")
    );
}

#[test]
fn a_detected_format_carries_no_exceptions() {
    let mut c = Compiler::new(CompileOptions::default());
    let spec = SourceSpec::new("feed.txt");
    let text = "[Adblock Plus]\n||evil.example^\n@@||ok.evil.example^\n";
    let report = c.add_reader(&spec, Cursor::new(text)).unwrap();
    assert_eq!(report.format, Some(Format::Adblock));
    assert_eq!((report.domain_rules, report.exceptions_dropped), (1, 1));
    let bl = Blocklist::from_bytes(c.to_bytes().unwrap()).unwrap();
    check_both(&bl, "www.ok.evil.example", "block");
}

#[test]
fn malformed_lines_are_reported_without_control_characters() {
    let text = "\u{1b}[2J\u{1b}[1;31mFAKE\u{1b}[0m\r2026 INFO list reloaded\nevil.example\n";
    let mut c = Compiler::new(CompileOptions::default());
    let mut spec = SourceSpec::new("esc.txt");
    spec.format = Some(Format::Domains);
    let report = c.add_reader(&spec, Cursor::new(text)).unwrap().clone();
    assert_eq!(report.skipped, 1);
    let line = &report.errors[0];
    let refusal = report.refusal().expect("as many malformed lines as rules");
    for shown in [&line.text, &line.reason, &refusal] {
        assert!(!shown.contains(['\r', '\u{1b}']), "{shown:?}");
    }
    assert!(
        line.text.contains("\\u{1b}[2J") && line.text.contains("\\u{d}"),
        "{:?}",
        line.text
    );
}
