//! Every list-format parser and format detection, end to end: the first
//! byte names the format (or asks for detection), the rest is the list.
//! Whatever the lines, the compile succeeds (bad lines are skipped and
//! counted, never fatal), the artifact it writes loads, and looking up
//! every word of the input returns.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use parapet_blocklist::{Blocklist, CompileOptions, Compiler, Format, SourceSpec};

const FORMATS: [Format; 7] = [
    Format::Hosts,
    Format::Domains,
    Format::Adblock,
    Format::Rpz,
    Format::Dnsmasq,
    Format::Ip,
    Format::Urls,
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, list)) = data.split_first() else {
        return;
    };
    let format = FORMATS.get(usize::from(selector & 0x0f)).copied();
    let text = String::from_utf8_lossy(list);
    let detected = Format::detect(&text);
    assert_ne!(detected, Format::Urls, "URL lists are never detected");
    let mut compiler = Compiler::new(CompileOptions::default());
    let spec = SourceSpec {
        format,
        allow: selector & 0x10 != 0,
        exact: selector & 0x20 != 0,
        ..SourceSpec::new("fuzz-input")
    };
    let report = compiler
        .add_reader(&spec, list)
        .expect("an in-memory list always parses");
    assert!(report.errors.len() <= 100, "at most 100 skipped lines kept");
    let bytes = compiler.to_bytes().expect("any parsed list compiles");
    let blocklist = Blocklist::from_bytes(bytes).expect("a compiled list loads");
    for word in text
        .split(|c: char| c.is_whitespace() || "/|^=,".contains(c))
        .take(256)
    {
        let _ = blocklist.check_name(word);
        if let Ok(ip) = word.parse::<IpAddr>() {
            let _ = blocklist.check_ip(ip);
        }
    }
    let _ = blocklist.stats();
});
