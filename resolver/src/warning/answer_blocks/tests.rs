//! The memory of answer blocks: its bound, its expiry (explicit
//! timestamps, no sleeping), and the live list's say.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use parapet_blocklist::{Blocklist, CompileOptions, Compiler, Format, SourceSpec};

use super::{AnswerBlock, AnswerBlocks, Via};

const LIFETIME: Duration = Duration::from_secs(100);

fn via(target: &str) -> Via {
    Via::Cname(target.into())
}

/// `names` (category phishing, list "phish") and `ips` (list "ips").
fn list(names: &str, ips: &str) -> Blocklist {
    let mut compiler = Compiler::new(CompileOptions::default());
    let names_spec = SourceSpec {
        name: "phish".into(),
        category: Some("phishing".into()),
        ..SourceSpec::new("phish.txt")
    };
    compiler
        .add_reader(&names_spec, names.as_bytes())
        .expect("names parse");
    let ips_spec = SourceSpec {
        name: "ips".into(),
        format: Some(Format::Ip),
        ..SourceSpec::new("ips.txt")
    };
    compiler
        .add_reader(&ips_spec, ips.as_bytes())
        .expect("ips parse");
    Blocklist::from_bytes(compiler.to_bytes().expect("compiles")).expect("loads")
}

#[test]
fn keeps_at_most_capacity_names_dropping_the_first_recorded() {
    let memory = AnswerBlocks::new(LIFETIME, 3);
    let now = Instant::now();
    for name in ["a.test", "b.test", "c.test"] {
        memory.record(name, via("evil.example"), now);
    }
    // Seen again: updated in place, keeps its place in the order.
    memory.record("a.test", via("other.example"), now);
    assert_eq!(memory.len(), 3);
    memory.record("d.test", via("evil.example"), now);
    assert_eq!(memory.len(), 3, "bounded");
    assert_eq!(
        memory.recall("a.test", now),
        None,
        "the first recorded went"
    );
    for name in ["b.test", "c.test", "d.test"] {
        assert_eq!(
            memory.recall(name, now),
            Some(via("evil.example")),
            "{name}"
        );
    }
    // Many more: still bounded, the newest kept.
    for i in 0..100 {
        memory.record(&format!("n{i}.test"), via("evil.example"), now);
    }
    assert_eq!(memory.len(), 3);
    assert!(memory.recall("n99.test", now).is_some());
    assert!(memory.recall("n96.test", now).is_none());
}

#[test]
fn entries_expire_after_the_lifetime() {
    let memory = AnswerBlocks::new(LIFETIME, 10);
    let t0 = Instant::now();
    memory.record("cname.test", via("evil.example"), t0);
    let just_before = t0 + LIFETIME - Duration::from_millis(1);
    assert_eq!(
        memory.recall("cname.test", just_before),
        Some(via("evil.example"))
    );
    assert_eq!(memory.recall("cname.test", t0 + LIFETIME), None, "expired");
    // Seen again later: remembered from then on.
    let t1 = t0 + LIFETIME * 2;
    memory.record("cname.test", via("evil.example"), t1);
    assert!(memory.recall("cname.test", t1 + LIFETIME / 2).is_some());
    // Recording another name pushes expired ones out even when not full.
    memory.record("old.test", via("evil.example"), t0);
    memory.record("new.test", via("evil.example"), t1 + LIFETIME * 3);
    assert_eq!(memory.len(), 1, "both expired entries are gone");
}

#[test]
fn ttl_sets_the_lifetime() {
    let memory = AnswerBlocks::for_ttl(60);
    assert_eq!(memory.lifetime, Duration::from_secs(60) + super::MARGIN);
    assert_eq!(memory.capacity, super::CAPACITY);
}

#[test]
fn explain_reads_the_rule_from_the_live_list() {
    let memory = AnswerBlocks::new(LIFETIME, 10);
    let now = Instant::now();
    let ip: IpAddr = "203.0.113.66".parse().expect("ip");
    let private: IpAddr = "192.168.1.10".parse().expect("ip");
    memory.record("cname.test", via("login.evil.example"), now);
    memory.record("flux.test", Via::Ip(ip), now);
    memory.record("lan.test", Via::Rebinding(private), now);

    let live = list("evil.example\n", "203.0.113.0/24\n");
    match memory.explain_at(&live, "cname.test", now) {
        Some(AnswerBlock::Cname { target, rule }) => {
            assert_eq!(target, "login.evil.example");
            assert_eq!(rule.pattern, "evil.example");
            assert_eq!(rule.source, "phish");
            assert_eq!(rule.category.as_deref(), Some("phishing"));
        }
        other => panic!("cname.test: {other:?}"),
    }
    match memory.explain_at(&live, "flux.test", now) {
        Some(AnswerBlock::Ip { address, rule }) => {
            assert_eq!(address, ip);
            assert_eq!(rule.pattern, "203.0.113.0/24");
            assert_eq!(rule.source, "ips");
        }
        other => panic!("flux.test: {other:?}"),
    }
    assert_eq!(
        memory.explain_at(&live, "lan.test", now),
        Some(AnswerBlock::Rebinding { address: private })
    );
    assert_eq!(memory.explain_at(&live, "never.test", now), None);

    // A reload that drops the rules drops the warnings too.
    let reloaded = list("other.example\n", "198.51.100.1\n");
    assert_eq!(memory.explain_at(&reloaded, "cname.test", now), None);
    assert_eq!(memory.explain_at(&reloaded, "flux.test", now), None);
}
