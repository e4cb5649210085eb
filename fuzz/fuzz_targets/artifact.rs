//! The artifact loader on arbitrary bytes: `Blocklist::from_bytes` refuses
//! or loads, never panics or loops, and every lookup on a loaded list
//! returns.
//!
//! With `PARAPET_FUZZ_FIX_CHECKSUM=1`, an input whose first byte is odd
//! first gets its length and checksum fields rewritten to match, so that
//! mutations reach the section checks behind the checksum. That mode finds
//! an open bug (a corrupt FST behind a valid checksum panics inside `fst`
//! at lookup: `fuzz/regressions/artifact/`), so the CI smoke leaves it off.
#![no_main]

use std::net::IpAddr;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use parapet_blocklist::Blocklist;

/// Header offset of the total-length field (see the artifact layout).
const TOTAL_LEN_AT: usize = 16;
const HEADER_LEN: usize = 192;

const NAMES: [&str; 8] = [
    "evil.example",
    "www.login.evil.example",
    "allowed.evil.example",
    "example",
    "com",
    "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.example",
    "xn--pypal-4ve.example",
    "",
];
const IPS: [&str; 5] = [
    "192.0.2.1",
    "0.0.0.0",
    "255.255.255.255",
    "2001:db8::1",
    "::",
];

static FIX_CHECKSUM: LazyLock<bool> =
    LazyLock::new(|| std::env::var_os("PARAPET_FUZZ_FIX_CHECKSUM").is_some_and(|v| v == "1"));

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let mut bytes = bytes.to_vec();
    if *FIX_CHECKSUM && mode & 1 == 1 && bytes.len() >= HEADER_LEN + 4 {
        let total = bytes.len() as u64;
        bytes[TOTAL_LEN_AT..TOTAL_LEN_AT + 8].copy_from_slice(&total.to_le_bytes());
        let body = bytes.len() - 4;
        let crc = crc32fast::hash(&bytes[..body]);
        bytes[body..].copy_from_slice(&crc.to_le_bytes());
    }
    let Ok(list) = Blocklist::from_bytes(bytes) else {
        return;
    };
    for name in NAMES {
        let verdict = list.check_name(name);
        if let Some(rule) = verdict.rule() {
            let _ = list.source_of(rule);
            let _ = list.rule_info(rule, name);
            let _ = list.allows_across_sources(rule);
        }
        let labels = name.split('.').filter(|l| !l.is_empty());
        let _ = list.check_labels(labels.map(str::as_bytes));
    }
    for ip in IPS {
        let verdict = list.check_ip(ip.parse::<IpAddr>().expect("valid IP"));
        if let Some(rule) = verdict.rule() {
            let _ = list.rule_info(rule, ip);
        }
    }
    let _ = list.stats();
});
