use super::*;

fn detector() -> Detector {
    Detector::new(&["party.example.org.uk".to_string()], &[]).unwrap()
}

#[track_caller]
fn caught(name: &str, imitates: &str, class: Class) {
    let d = detector();
    assert_eq!(
        d.check_text(name),
        Some(Hit { imitates, class }),
        "{name} should imitate {imitates}"
    );
}

#[track_caller]
fn passes(name: &str) {
    assert_eq!(
        detector().check_text(name),
        None,
        "{name} is not a look-alike"
    );
}

#[test]
fn protected_names_and_their_subdomains_pass() {
    for name in [
        "gmail.com",
        "mail.google.com",
        "www.party.example.org.uk",
        "GMAIL.COM.",
        "login.microsoftonline.com",
    ] {
        passes(name);
    }
}

#[test]
fn unrelated_names_pass() {
    for name in [
        "example.com",
        "bbc.co.uk",
        "wikipedia.org",
        "mail.example.net",
        "gov.au",
        "nhs.uk",
    ] {
        passes(name);
    }
}

#[test]
fn idn_homographs_as_a_labels_and_unicode() {
    // Cyrillic а (U+0430) in "gmаil.com".
    let unicode = "gm\u{430}il.com";
    let a_label = idna::domain_to_ascii(unicode).unwrap();
    assert!(a_label.starts_with("xn--"), "{a_label}");
    caught(unicode, "gmail.com", Class::Skeleton);
    caught(&a_label, "gmail.com", Class::Skeleton);
    // All-Cyrillic "аррӏе.com".
    caught(
        "\u{430}\u{440}\u{440}\u{4cf}\u{435}.com",
        "apple.com",
        Class::Skeleton,
    );
    // Greek ο in "οutlook.com", Latin with a diacritic in "yahöo.com".
    caught("\u{3bf}utlook.com", "outlook.com", Class::Skeleton);
    caught("yah\u{f6}o.com", "yahoo.com", Class::Skeleton);
}

#[test]
fn digit_and_letter_swaps() {
    caught("g00gle.com", "google.com", Class::Skeleton);
    caught("app1e.com", "apple.com", Class::Skeleton);
    caught("rnicrosoft.com", "microsoft.com", Class::Skeleton);
    caught("icl0ud.com", "icloud.com", Class::Skeleton);
}

#[test]
fn one_edit_classes() {
    caught("gmaill.com", "gmail.com", Class::OneEdit); // repetition
    caught("gmaiol.com", "gmail.com", Class::OneEdit); // insertion
    caught("gmal.com", "gmail.com", Class::OneEdit); // omission
    caught("gmaik.com", "gmail.com", Class::OneEdit); // replacement (keyboard)
    caught("gmial.com", "gmail.com", Class::OneEdit); // transposition
    caught("gmeil.com", "gmail.com", Class::OneEdit); // vowel swap
    caught("gmahl.com", "gmail.com", Class::OneEdit); // bit flip: i (0x69) → h (0x68)
    caught("outlooks.com", "outlook.com", Class::OneEdit); // addition
}

#[test]
fn first_letter_edits_of_short_labels() {
    // The first two letters swapped keep every letter: caught.
    caught("mgail.com", "gmail.com", Class::OneEdit);
    caught("ogogle.com", "google.com", Class::OneEdit);
    // Another first letter, or one before the label, is another real
    // service or a common word for labels this short: not counted.
    for name in [
        "ymail.com",
        "email.com",
        "mail.com",
        "hicloud.com",
        "tgmail.com",
    ] {
        passes(name);
    }
    // Long labels count every edit, the first letter's too.
    caught("futlook.com", "outlook.com", Class::OneEdit);
}

#[test]
fn hyphenation_and_other_suffixes() {
    caught("g-mail.com", "gmail.com", Class::Skeleton);
    caught("out-look.com", "outlook.com", Class::Skeleton);
    caught("gmail.co", "gmail.com", Class::Skeleton);
    caught("party-example.org", "party.example.org.uk", Class::Skeleton);
    caught(
        "partyexample.co.uk",
        "party.example.org.uk",
        Class::Skeleton,
    );
}

#[test]
fn flattened_domains() {
    caught(
        "party-example-org.uk",
        "party.example.org.uk",
        Class::Skeleton,
    );
    caught("gov-uk.com", "gov.uk", Class::Skeleton);
    caught("gmail-com.net", "gmail.com", Class::Skeleton);
    // A dot moved inside the label (typosquatting's "subdomain" class).
    caught("gm.ail.com", "gmail.com", Class::Skeleton);
}

#[test]
fn protected_domain_as_a_subdomain_of_another() {
    caught(
        "party.example.org.uk.evil.com",
        "party.example.org.uk",
        Class::Subdomain,
    );
    caught(
        "login-party.example.org.uk.evil.net",
        "party.example.org.uk",
        Class::Subdomain,
    );
    caught("accounts.gmail.com.evil.net", "gmail.com", Class::Subdomain);
    caught("www.gov.uk.verify.example", "gov.uk", Class::Subdomain);
}

#[test]
fn lure_words() {
    caught("gmail-login.com", "gmail.com", Class::Lure);
    caught("secure-login-gov-uk.net", "gov.uk", Class::Lure);
    caught(
        "verify-party-example.com",
        "party.example.org.uk",
        Class::Lure,
    );
    caught("account-support-icloud.com", "icloud.com", Class::Lure);
    passes("login-example.com");
}

#[test]
fn allow_entries_and_label_wildcards() {
    let d = Detector::new(&[], &["gmail.de".into(), "icloud.*".into()]).unwrap();
    assert_eq!(d.check_text("gmail.de"), None);
    assert_eq!(d.check_text("icloud.net"), None);
    assert!(d.check_text("gmail.fr").is_some());
    // Default allow: Google under its country suffixes.
    assert_eq!(d.check_text("google.co.uk"), None);
}

#[test]
fn bad_entries_are_refused_with_the_entry() {
    for bad in ["", "http://gmail.com", "a..b", "user@gmail.com"] {
        let err = Detector::new(&[bad.to_string()], &[]).unwrap_err();
        assert_eq!(err, DetectorError::BadName(bad.to_string()));
    }
}

#[test]
fn public_suffixes_are_refused_but_the_default_gov_uk_is_kept() {
    for bad in ["com", "co.uk", "CO.UK.", "github.io"] {
        let err = Detector::new(&[bad.to_string()], &[]).unwrap_err();
        assert_eq!(err, DetectorError::PublicSuffix(bad.to_string()));
    }
    // gov.uk is a suffix in the list and protected by default; naming it
    // again is harmless, and it still catches its look-alikes.
    let d = Detector::new(&["gov.uk".into(), "party.example.org.uk".into()], &[]).unwrap();
    assert!(d.protected().iter().any(|p| p == "gov.uk"));
    assert_eq!(
        d.check_text("gov-uk.com").map(|h| h.imitates.to_string()),
        Some("gov.uk".to_string())
    );
    // A name under a suffix is a domain, not a suffix.
    assert!(Detector::new(&["example.co.uk".into()], &[]).is_ok());
}

#[test]
fn long_and_odd_names_do_not_panic() {
    let d = detector();
    let long = [
        "a".repeat(63),
        "b".repeat(63),
        "c".repeat(63),
        "d".repeat(61),
    ]
    .join(".");
    assert_eq!(d.check_text(&long), None);
    for name in [
        "xn--",
        "xn--zz.com",
        "-.-",
        "com",
        ".",
        "a-.b-",
        "xn--80ak6aa92e.com",
    ] {
        let _ = d.check_text(name);
    }
    let labels: [&[u8]; 3] = [b"G\xffMAIL", b"", b"com"];
    let _ = d.check_labels(labels.into_iter());
}

#[test]
fn within_one_edit_cases() {
    use fold::within_one_edit as w;
    assert!(w(b"gmail", b"gmail"));
    assert!(w(b"gmail", b"gmial"));
    assert!(w(b"gmail", b"gmal"));
    assert!(w(b"gmail", b"gmaill"));
    assert!(!w(b"gmail", b"giaml"));
    assert!(!w(b"xab", b"abx"));
    assert!(!w(b"gmail", b"gm"));
}

#[test]
fn ascii_fold_table_equals_fold_char() {
    for b in 0u8..128 {
        for ascii in [true, false] {
            let mut folded = if ascii {
                fold::Folded::default()
            } else {
                fold::Folded::light()
            };
            folded.push_text(&[b]);
            let want = fold::fold_char(char::from(b), ascii);
            let got = folded.as_bytes().first().copied();
            // `.` splits labels before folding: it folds to nothing either way.
            assert_eq!(got, want, "byte {b:#x}, ascii {ascii}");
        }
    }
}

/// Every single-edit, homoglyph, separator, suffix, lure and subdomain
/// variant of the protected labels: the names the first test must never
/// turn away when the full check catches them.
fn generated_variants(d: &Detector) -> Vec<String> {
    let alphabet: Vec<char> = ('a'..='z').chain('0'..='9').chain(['-']).collect();
    let glyphs = ['\u{430}', '\u{3bf}', '\u{435}', '\u{456}', 'ö', 'é', 'ł'];
    let mut out = Vec::new();
    for domain in d.protected() {
        let (label, suffix) = domain.split_once('.').unwrap();
        let chars: Vec<char> = label.chars().collect();
        let mut labels = vec![label.to_string()];
        for i in 0..=chars.len() {
            let (head, tail) = (&chars[..i], &chars[i..]);
            let s = |mid: &str, skip: usize| {
                let tail: String = tail.iter().skip(skip).collect();
                format!("{}{mid}{tail}", head.iter().collect::<String>())
            };
            for c in alphabet.iter().chain(&glyphs).chain(&['.', 'm']) {
                labels.push(s(&c.to_string(), 0));
                labels.push(s(&c.to_string(), 1));
            }
            labels.push(s("", 1));
            labels.push(s("rn", 1));
            labels.push(s("-login-", 0));
            if let [a, b, ..] = tail {
                labels.push(s(&format!("{b}{a}"), 2));
            }
        }
        for l in labels {
            for suffix in [suffix, "com", "co.uk", "net"] {
                out.push(format!("{l}.{suffix}"));
                out.push(format!("www.{l}.{suffix}"));
                out.push(format!("{l}-{suffix}.evil.org"));
                out.push(format!("login-{l}.{suffix}.evil.org"));
                out.push(format!("secure-{l}-{suffix}.org"));
                out.push(format!("{l}-account.{suffix}"));
            }
        }
        out.push(format!("gov-login-uk.{suffix}"));
        out.push(format!("xn--{label}-abc.{suffix}"));
    }
    out
}

#[test]
fn prefilter_never_rejects_a_hit() {
    let d = detector();
    let mut names = generated_variants(&d);
    let generated = names.len();
    let benign = crate::data_dir().join("benign/umbrella_top100k.txt.gz");
    if let Some(path) = parapet_test_support::data(&benign, "prefilter_never_rejects_a_hit") {
        use std::io::Read as _;
        let mut text = String::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(path).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        names.extend(text.lines().map(str::to_string));
    }
    let (mut hits, mut passed, mut generated_hits) = (0, 0, 0);
    for (i, name) in names.iter().enumerate() {
        if i == generated {
            eprintln!("generated: {hits} look-alikes; first test let {passed} of {i} through");
            (generated_hits, hits, passed) = (hits, 0, 0);
        }
        let full = d.check_text_unfiltered(name);
        assert_eq!(d.check_text(name), full, "{name}");
        hits += usize::from(full.is_some());
        let ascii = idna::domain_to_ascii(name).unwrap_or_default();
        passed += usize::from(d.prefilter.may_match(ascii.as_bytes()));
    }
    eprintln!(
        "benign: {hits} look-alikes; first test let {passed} of {} through",
        names.len() - generated
    );
    assert!(
        generated_hits > 10_000,
        "only {generated_hits} look-alikes generated"
    );
}

#[test]
fn a_key_with_many_spellings_still_catches_every_spelling() {
    // Six m's: 3^6 spellings, past what the first test keeps.
    let d = Detector::new(&["mammammam.org".to_string()], &[]).unwrap();
    let hit = Some(Hit {
        imitates: "mammammam.org",
        class: Class::Skeleton,
    });
    assert_eq!(d.check_text("rnamrnamnnam.com"), hit);
    assert_eq!(d.check_text("rnarnrnarnrnam.net"), hit);
}
