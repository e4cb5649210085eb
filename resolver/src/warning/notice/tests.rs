use parapet_blocklist::{Action, Scope};

use super::*;

fn rule(pattern: &str, category: Option<&str>) -> RuleInfo {
    RuleInfo {
        pattern: pattern.into(),
        action: Action::Block,
        scope: Scope::Subtree,
        source: "test-feed".into(),
        category: category.map(Into::into),
    }
}

fn host(ascii: &str) -> HostName {
    HostName::parse(ascii).unwrap()
}

fn config() -> WarningPageConfig {
    WarningPageConfig {
        organisation: Some("Example Party".into()),
        contact: Some("the digital team".into()),
        contact_address: Some("security@party.example".into()),
        ..WarningPageConfig::default()
    }
}

#[test]
fn blocked_text_names_site_reason_and_contact() {
    let text = blocked(
        &host("login.evil.example"),
        &rule("evil.example", Some("phishing")),
        &config(),
    )
    .to_text();
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("You tried to open login.evil.example."),
        "{text}"
    );
    assert!(
        flat.contains(
            "To protect you, the protective DNS service run by Example Party (parapet) stopped"
        ),
        "{text}"
    );
    assert!(flat.contains("as phishing: a site that pretends"), "{text}");
    assert!(flat.contains("The list is “test-feed”."), "{text}");
    assert!(
        flat.contains("The whole site evil.example is blocked, including login.evil.example."),
        "{text}"
    );
    assert!(flat.contains("Nothing from this site was loaded"), "{text}");
    assert!(flat.contains("Do not enter passwords"), "{text}");
    assert!(
        flat.contains("Tell the digital team (security@party.example)"),
        "{text}"
    );
    assert!(
        flat.contains("rule evil.example, list test-feed, category phishing"),
        "{text}"
    );
    assert!(
        text.lines()
            .all(|l| l.chars().count() <= 78 || !l.contains(' ')),
        "{text}"
    );
}

#[test]
fn exact_match_does_not_mention_parent() {
    let text = blocked(
        &host("evil.example"),
        &rule("evil.example", None),
        &config(),
    )
    .to_text();
    assert!(!text.contains("The whole site"), "{text}");
    assert!(
        text.contains("It is on a list of known dangerous sites."),
        "{text}"
    );
}

#[test]
fn no_contact_configured_falls_back_to_party_it() {
    let text = blocked(
        &host("evil.example"),
        &rule("evil.example", None),
        &WarningPageConfig::default(),
    )
    .to_text();
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains("Tell your party's IT or security contact what happened"),
        "{text}"
    );
    assert!(flat.contains("Protected by parapet."), "{text}");
}

#[test]
fn contact_links_only_for_mail_and_web_addresses() {
    assert_eq!(
        contact_link("it@party.example"),
        Span::Link {
            text: "it@party.example".into(),
            href: "mailto:it@party.example".into()
        }
    );
    assert!(matches!(
        contact_link("https://party.example/report"),
        Span::Link { .. }
    ));
    assert_eq!(
        contact_link("javascript:alert(1)"),
        Span::Text("javascript:alert(1)".into())
    );
    assert_eq!(
        contact_link("call 0123 456"),
        Span::Text("call 0123 456".into())
    );
}

#[test]
fn lists_are_named_never_by_file() {
    assert_eq!(list_name("urlhaus"), "urlhaus");
    assert_eq!(list_name("abuse.ch"), "abuse.ch");
    assert_eq!(list_name("sample-phishing.txt"), "sample-phishing");
    assert_eq!(list_name("/var/lib/parapet/feeds/x.hosts.gz"), "x");
    assert_eq!(list_name(".txt"), ".txt");
}

#[test]
fn blocked_by_answer_says_where_the_address_led() {
    use super::super::answer_blocks::AnswerBlock;
    let flat = |block: &AnswerBlock| {
        let text = blocked_by_answer(&host("cname.test"), block, &config()).to_text();
        text.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let cname = flat(&AnswerBlock::Cname {
        target: "login.evil.example".into(),
        rule: rule("evil.example", Some("phishing")),
    });
    for expected in [
        "Warning: this site was blocked to protect you",
        "You tried to open cname.test.",
        "This site's name is not on a list itself, but its address led to another site, \
         login.evil.example.",
        "It is on a list of known dangerous sites, as phishing: a site that pretends",
        "The list is “test-feed”.",
        "The whole site evil.example is blocked, including login.evil.example.",
        "rule evil.example, list test-feed, category phishing (CNAME target login.evil.example)",
        "Tell the digital team (security@party.example)",
    ] {
        assert!(cname.contains(expected), "missing {expected:?} in {cname}");
    }
    assert!(!cname.contains("not blocked"), "{cname}");

    let ip = flat(&AnswerBlock::Ip {
        address: "203.0.113.66".parse().unwrap(),
        rule: rule("203.0.113.0/24", Some("malware")),
    });
    for expected in [
        "but its address is 203.0.113.66. It is on a list of known dangerous addresses, as \
         malware",
        "rule 203.0.113.0/24, list test-feed, category malware (answer address 203.0.113.66)",
    ] {
        assert!(ip.contains(expected), "missing {expected:?} in {ip}");
    }

    let private = flat(&AnswerBlock::Rebinding {
        address: "192.168.1.10".parse().unwrap(),
    });
    for expected in [
        "The address of this site is 192.168.1.10, an address inside a private network",
        "(DNS rebinding)",
        "private address check (answer address 192.168.1.10)",
    ] {
        assert!(
            private.contains(expected),
            "missing {expected:?} in {private}"
        );
    }
}
