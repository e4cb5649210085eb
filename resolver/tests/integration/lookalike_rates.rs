//! The look-alike targets of issue 17 over the default protected set:
//! detection of generated typosquats (at least 95%) and false positives on
//! a benign popular-sites list (at most 1 in 10,000).

use std::io::Read as _;

use parapet_resolver::lookalike::{Detector, defaults};

/// Keyboard neighbours (QWERTY) for replacement and insertion typos.
const KEYBOARD: &[(char, &str)] = &[
    ('q', "12wa"),
    ('w', "23qase"),
    ('e', "34wsdr"),
    ('r', "45edft"),
    ('t', "56rfgy"),
    ('y', "67tghu"),
    ('u', "78yhji"),
    ('i', "89ujko"),
    ('o', "90iklp"),
    ('p', "0ol"),
    ('a', "qwsz"),
    ('s', "weadzx"),
    ('d', "erfcxs"),
    ('f', "rtgvcd"),
    ('g', "tyhbvf"),
    ('h', "yujnbg"),
    ('j', "uikmnh"),
    ('k', "iolmj"),
    ('l', "opk"),
    ('z', "asx"),
    ('x', "zsdc"),
    ('c', "xdfv"),
    ('v', "cfgb"),
    ('b', "vghn"),
    ('n', "bhjm"),
    ('m', "njk"),
];

/// Look-alike characters a homograph generator substitutes.
const HOMOGLYPHS: &[(char, &str)] = &[
    ('a', "àáâãäåɑạǎăȧąа"),
    ('b', "ƅɓ"),
    ('c', "çćĉċčс"),
    ('d', "ďđԁɗ"),
    ('e', "èéêëēĕėęěẹе"),
    ('g', "qɡġğǵģ"),
    ('h', "ĥħһ"),
    ('i', "1lìíîïıịіι"),
    ('k', "ķκ"),
    ('l', "1iłɫ"),
    ('m', "ṁ"),
    ('n', "ñńņňṅ"),
    ('o', "0òóôõöøōοо"),
    ('p', "ρрþ"),
    ('r', "ŕŗř"),
    ('s', "śŝşšѕ"),
    ('t', "ţťŧț"),
    ('u', "ùúûüũūůűųυ"),
    ('v', "ѵν"),
    ('w', "ŵԝ"),
    ('x', "хχ"),
    ('y', "ýÿŷу"),
    ('z', "źżž"),
];

fn neighbours(table: &[(char, &'static str)], c: char) -> &'static str {
    table.iter().find(|(k, _)| *k == c).map_or("", |(_, v)| v)
}

/// Every typosquat of `label` (followed by `.{suffix}`) by class, in the
/// manner of common typosquatting generators.
fn typosquats(label: &str, suffix: &str) -> Vec<(&'static str, String)> {
    let chars: Vec<char> = label.chars().collect();
    let n = chars.len();
    let at = |i: usize, s: &str, skip: usize| -> String {
        let head: String = chars[..i].iter().collect();
        let tail: String = chars[(i + skip).min(n)..].iter().collect();
        format!("{head}{s}{tail}.{suffix}")
    };
    let mut out = Vec::new();
    for (i, &c) in chars.iter().enumerate() {
        for g in neighbours(HOMOGLYPHS, c).chars() {
            out.push(("homoglyph", at(i, &g.to_string(), 1)));
        }
        for k in neighbours(KEYBOARD, c).chars() {
            out.push(("replacement", at(i, &k.to_string(), 1)));
            out.push(("insertion", at(i, &format!("{k}{c}"), 1)));
        }
        out.push(("omission", at(i, "", 1)));
        out.push(("repetition", at(i, &format!("{c}{c}"), 1)));
        if i + 1 < n {
            out.push(("transposition", at(i, &format!("{}{c}", chars[i + 1]), 2)));
        }
        if "aeiou".contains(c) {
            for v in "aeiou".chars().filter(|&v| v != c) {
                out.push(("vowel-swap", at(i, &v.to_string(), 1)));
            }
        }
        for bit in 0..8 {
            let flipped = char::from(c as u8 ^ (1 << bit));
            if flipped.is_ascii_lowercase() || flipped.is_ascii_digit() || flipped == '-' {
                out.push(("bitsquatting", at(i, &flipped.to_string(), 1)));
            }
        }
        if i > 0 {
            out.push(("hyphenation", at(i, "-", 0)));
            out.push(("subdomain", at(i, ".", 0)));
        }
    }
    for a in ('a'..='z').chain('0'..='9') {
        out.push(("addition", format!("{label}{a}.{suffix}")));
    }
    out
}

/// Split a default protected domain into the label a generator varies and
/// the suffix it keeps (`gov.uk`, itself a public suffix: `gov` + `uk`).
fn split(domain: &str) -> (&str, &str) {
    domain.split_once('.').unwrap()
}

#[test]
fn detects_at_least_95_percent_of_generated_typosquats() {
    let detector = Detector::new(&[], &[]).unwrap();
    let mut per_class: std::collections::BTreeMap<&str, (usize, usize)> = Default::default();
    let mut missed = Vec::new();
    for domain in defaults::PROTECT {
        let (label, suffix) = split(domain);
        for (class, name) in typosquats(label, suffix) {
            if detector.check_text(&name).is_none() && !name.eq_ignore_ascii_case(domain) {
                // A variant that is itself another protected or allowed
                // domain (`googlemail` → `gmail`?) is not a look-alike.
                missed.push(name);
                per_class.entry(class).or_default().1 += 1;
            } else {
                per_class.entry(class).or_default().0 += 1;
            }
        }
    }
    let caught: usize = per_class.values().map(|v| v.0).sum();
    let total = caught + missed.len();
    for (class, (c, m)) in &per_class {
        eprintln!("{class:14} caught {c:5} missed {m:4}");
    }
    eprintln!(
        "detected {caught}/{total}; missed e.g. {:?}",
        &missed[..missed.len().min(40)]
    );
    assert!(
        caught * 100 >= total * 95,
        "detection {caught}/{total} below 95%"
    );
}

#[test]
fn benign_names_rarely_look_alike() {
    let path = parapet_blocklist::data_dir().join("benign/umbrella_top100k.txt.gz");
    let Some(path) = parapet_test_support::data(&path, "benign_names_rarely_look_alike") else {
        return;
    };
    let mut raw = Vec::new();
    let file = std::fs::File::open(path).unwrap();
    flate2::read::MultiGzDecoder::new(file)
        .read_to_end(&mut raw)
        .unwrap();
    let text = String::from_utf8_lossy(&raw);
    let detector = Detector::new(&[], &[]).unwrap();
    let mut total = 0usize;
    let mut false_positives = Vec::new();
    for name in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        total += 1;
        if let Some(hit) = detector.check_text(name) {
            false_positives.push(format!("{name} ({:?} of {})", hit.class, hit.imitates));
        }
    }
    eprintln!(
        "{} false positives in {total} names:",
        false_positives.len()
    );
    for fp in &false_positives {
        eprintln!("  {fp}");
    }
    assert!(total >= 10_000, "only {total} names read");
    assert!(
        false_positives.len() * 10_000 <= total,
        "{} false positives in {total} names, above 1 in 10,000",
        false_positives.len()
    );
}
