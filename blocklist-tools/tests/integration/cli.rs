//! The `parapet-blocklist` binary on the real lists in ../shared/data.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_parapet-blocklist"))
}

/// The real data directory, or `None` after a skip (a failure under
/// `PARAPET_REQUIRE_TOOLS`).
fn data(test: &str) -> Option<PathBuf> {
    let dir = parapet_blocklist::data_dir();
    parapet_test_support::data(&dir.join("hosts"), test).map(|_| dir)
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run parapet-blocklist")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// First rule-bearing line of a list, with `map` extracting the name.
fn first_name(path: &Path, map: impl Fn(&str) -> Option<String>) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    text.lines().find_map(|l| map(l.trim())).unwrap()
}

/// Parse `check` output into (input, word, rule, source, category).
fn lines(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

#[test]
fn compile_real_lists_then_check_listed_subdomains_lookalikes_and_benign_names() {
    // Long on purpose: one scenario, one compiled artifact, checked in turn
    // for listed names, their subdomains, look-alikes and benign names.
    let Some(d) =
        data("compile_real_lists_then_check_listed_subdomains_lookalikes_and_benign_names")
    else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let pbl = tmp.path().join("real.pbl");
    let sources = [
        "hosts/blocklistproject_scam.hosts",
        "hosts/hagezi_light.hosts.gz",
        "domains/phishing_army_via_romainmarcoux.txt",
        "adblock/hagezi_fake.adblock.txt",
        "rpz/hagezi_dyndns.rpz",
        "dnsmasq/hagezi_fake.dnsmasq.conf",
        "ips/spamhaus_drop_2021.netset",
        "messy/urlhaus_hosts_CRLF_converted.txt",
    ];
    let mut cmd = bin();
    cmd.arg("compile")
        .arg("-o")
        .arg(&pbl)
        .arg("--category")
        .arg("malware");
    for s in sources {
        cmd.arg(d.join(s));
    }
    cmd.arg("--allow").arg(format!(
        "adblock:{}",
        d.join("adblock/hagezi_whitelist_referral.adblock.txt")
            .display()
    ));
    let out = run(&mut cmd);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("blocklistproject_scam.hosts: hosts format"),
        "{err}"
    );
    assert!(err.contains("hagezi_dyndns.rpz: rpz format"), "{err}");
    assert!(
        err.contains("hagezi_fake.dnsmasq.conf: dnsmasq format"),
        "{err}"
    );
    assert!(
        err.contains("spamhaus_drop_2021.netset: ip format"),
        "{err}"
    );
    // Real public-suffix lines (`3utilities.com`) are refused and reported with file:line.
    assert!(
        err.contains("hagezi_light.hosts.gz:4586: \"3utilities.com\" is a public suffix"),
        "{err}"
    );

    let hosts_name = first_name(&d.join("hosts/blocklistproject_scam.hosts"), |l| {
        l.strip_prefix("0.0.0.0 ").map(str::to_string)
    });
    let rpz_name = first_name(&d.join("rpz/hagezi_dyndns.rpz"), |l| {
        l.strip_suffix(" CNAME .")
            .filter(|n| !n.starts_with('*'))
            .map(str::to_string)
    });
    let dnsmasq_name = first_name(&d.join("dnsmasq/hagezi_fake.dnsmasq.conf"), |l| {
        l.strip_prefix("local=/")?
            .strip_suffix('/')
            .map(str::to_string)
    });
    let queries = [
        hosts_name.clone(),
        format!("www.login.{hosts_name}"),
        format!("not{hosts_name}"),
        rpz_name.to_uppercase() + ".",
        format!("sub.{rpz_name}"),
        dnsmasq_name.clone(),
        "www.wikipedia.org".to_string(),
        "www.bbc.co.uk".to_string(),
        "1.19.4.4".to_string(),
        "8.8.8.8".to_string(),
    ];
    let out = run(bin().arg("check").arg(&pbl).args(&queries));
    assert!(out.status.success());
    let got = lines(&stdout(&out));
    assert_eq!(got.len(), queries.len());
    let words: Vec<&str> = got.iter().map(|l| l[1].as_str()).collect();
    assert_eq!(
        words,
        [
            "block", "block", "none", "block", "block", "block", "none", "none", "block", "none"
        ],
        "{got:?}"
    );
    assert_eq!(
        got[0],
        [
            hosts_name.as_str(),
            "block",
            hosts_name.as_str(),
            "blocklistproject_scam.hosts",
            "malware"
        ]
    );
    assert_eq!(got[1][2], hosts_name);
    assert_eq!(got[2].len(), 2);
    // An RPZ `name CNAME .` rule is exact, and its `*.name` twin covers the subdomains.
    assert_eq!(got[3][2], format!("={rpz_name}"));
    assert_eq!(got[4][2], format!("*.{rpz_name}"));
    assert_eq!(got[8][2], "1.19.0.0/16");

    // `-` reads queries from stdin.
    let mut child = bin()
        .arg("check")
        .arg(&pbl)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{hosts_name}\n\nexample.org\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let got = lines(&stdout(&out));
    assert_eq!(got.len(), 2);
    assert_eq!((got[0][1].as_str(), got[1][1].as_str()), ("block", "none"));

    let out = run(bin().arg("stats").arg(&pbl));
    assert!(out.status.success());
    let s = stdout(&out);
    assert!(
        s.contains("domain_rules\t")
            && s.contains("source\tblocklistproject_scam.hosts\tmalware\t"),
        "{s}"
    );
    let field = |key: &str| -> u64 {
        let line = s.lines().find(|l| l.starts_with(&format!("{key}\t")));
        line.and_then(|l| l.split('\t').nth(1)?.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {s}"))
    };
    let sections = [
        field("fst_bytes"),
        field("filter_bytes"),
        field("index_bytes"),
    ];
    assert!(sections.iter().all(|b| *b > 0), "{s}");
    assert!(sections.iter().sum::<u64>() < field("bytes"), "{s}");
}

#[test]
fn benign_names_are_not_blocked_by_malware_lists() {
    let Some(d) = data("benign_names_are_not_blocked_by_malware_lists") else {
        return;
    };
    let benign = d.join("benign/umbrella_top100k.txt.gz");
    let mut names = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(std::fs::File::open(&benign).unwrap()),
        &mut names,
    )
    .unwrap();
    let top: Vec<&str> = names.lines().take(200).collect();
    let mut child = bin()
        .arg("check")
        .arg(format!(
            "hosts:{}",
            d.join("hosts/blocklistproject_ransomware.hosts").display()
        ))
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(top.join("\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let got = lines(&stdout(&out));
    assert_eq!(got.len(), top.len());
    assert!(
        got.iter().all(|l| l[1] == "none"),
        "{:?}",
        got.iter().find(|l| l[1] != "none")
    );
}

#[test]
fn raw_list_is_compiled_in_memory_for_check() {
    let tmp = tempfile::tempdir().unwrap();
    let list = tmp.path().join("list.txt");
    std::fs::write(&list, "||evil.example^\n@@||ok.evil.example^\n").unwrap();
    let out = run(bin().arg("check").arg(&list).args([
        "a.evil.example",
        "ok.evil.example",
        "evil.example.org",
    ]));
    assert!(out.status.success());
    // Detected as adblock: its exception is dropped (the format is not named).
    assert_eq!(
        stdout(&out),
        "a.evil.example\tblock\tevil.example\tlist.txt\t-\nok.evil.example\tblock\tevil.example\tlist.txt\t-\nevil.example.org\tnone\n"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 exceptions dropped"));
    let named = format!("adblock:{}", list.display());
    let out = run(bin().arg("check").arg(&named).args([
        "ok.evil.example",
        "https://user@a.evil.example:8443/login?x=1",
    ]));
    assert!(out.status.success());
    assert_eq!(
        stdout(&out),
        "ok.evil.example\tallow\tok.evil.example\tlist.txt\t-\town-list exception\nhttps://user@a.evil.example:8443/login?x=1\tblock\tevil.example\tlist.txt\t-\n"
    );
}

/// A list that is mostly not rules: the compile fails naming the first
/// malformed lines, as `parapet check-config` and the server do.
pub const NOT_A_LIST: &str = "<html>\n<head><title>502 Bad Gateway</title></head>\nevil.example\n<body>oops</body>\n</html>\n";

#[test]
fn compile_refuses_a_mostly_malformed_list_naming_its_lines() {
    let tmp = tempfile::tempdir().unwrap();
    let list = tmp.path().join("feed.txt");
    std::fs::write(&list, NOT_A_LIST).unwrap();
    let out_file = tmp.path().join("o.pbl");
    let out = run(bin()
        .arg("compile")
        .arg("-o")
        .arg(&out_file)
        .arg(format!("domains:{}", list.display())));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("4 malformed lines against 1 rules"), "{err}");
    assert!(err.contains("feed.txt:1: <html>"), "{err}");
    assert!(err.contains("feed.txt:2: <head>"), "{err}");
    assert!(!out_file.exists());
    // `check` on the raw list applies the same rule.
    let out = run(bin()
        .arg("check")
        .arg(format!("domains:{}", list.display()))
        .arg("evil.example"));
    assert!(!out.status.success());
}

#[test]
fn url_feed_blocks_own_hosts_never_shared_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let feed = tmp.path().join("openphish.txt");
    std::fs::write(
        &feed,
        "https://secure-login.evil.example/paypal/\nhttp://docs.google.com/forms/d/e/1FAIpQL/viewform\nhttps://bit.ly/3xYz\nhttps://phish.github.io/bank/\nhttp://192.0.2.9:8080/x.exe\nhttps://github.io/\n",
    )
    .unwrap();
    let pbl = tmp.path().join("o.pbl");
    let out = run(bin()
        .arg("compile")
        .arg("-o")
        .arg(&pbl)
        .arg(format!("urls:{}", feed.display())));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("urls format, 2 domain rules, 0 IP rules, 3 skipped (3 refused), 1 ignored"),
        "{err}"
    );
    assert!(
        err.contains("openphish.txt:2: \"docs.google.com\" is a shared host"),
        "{err}"
    );
    let out = run(bin().arg("check").arg(&pbl).args([
        "https://secure-login.evil.example/other",
        "phish.github.io",
        "docs.google.com",
        "bit.ly",
        "github.io",
    ]));
    let words: Vec<String> = lines(&stdout(&out)).iter().map(|l| l[1].clone()).collect();
    assert_eq!(words, ["block", "block", "none", "none", "none"]);
}

#[test]
fn errors_go_to_stderr_with_nonzero_exit() {
    let tmp = tempfile::tempdir().unwrap();
    let out = run(bin()
        .arg("check")
        .arg(tmp.path().join("missing.pbl"))
        .arg("x.example"));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.pbl"));
    assert!(out.stdout.is_empty());

    let bad = tmp.path().join("bad.pbl");
    std::fs::write(&bad, b"PARAPBL\0garbage").unwrap();
    let out = run(bin().arg("stats").arg(&bad));
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("truncated"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = run(bin()
        .arg("compile")
        .arg("-o")
        .arg(tmp.path().join("o.pbl"))
        .arg("nosuchformat:x"));
    assert!(!out.status.success());
    let out = run(bin()
        .arg("compile")
        .arg("-o")
        .arg(tmp.path().join("o.pbl"))
        .arg(tmp.path().join("nope.txt")));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nope.txt"));
}

#[test]
fn check_shows_lookalikes_of_protected_domains_as_the_resolver_blocks_them() {
    let tmp = tempfile::tempdir().unwrap();
    let list = tmp.path().join("list.txt");
    std::fs::write(&list, "evil.example\n").unwrap();
    let queries = [
        "gmial.com",
        "xn--gmal-nza.com",
        "secure-login-party-example.net",
        "mail.google.com",
        "evil.example",
        "wikipedia.org",
    ];
    let out = run(bin()
        .arg("check")
        .arg(&list)
        .args(["--protect", "party.example.org.uk"])
        .args(queries));
    assert!(out.status.success(), "{out:?}");
    let got = lines(&stdout(&out));
    let summary: Vec<(&str, &str)> = got
        .iter()
        .map(|l| (l[1].as_str(), l.get(2).map_or("", String::as_str)))
        .collect();
    assert_eq!(
        summary,
        [
            ("block", "gmail.com"),
            ("block", "gmail.com"),
            ("block", "party.example.org.uk"),
            ("none", ""),
            ("block", "evil.example"),
            ("none", ""),
        ],
        "{got:?}"
    );
    assert_eq!(got[0][3..], ["lookalikes", "lookalike", "one letter away"]);
    // A known neighbour, and the check turned off.
    let out = run(bin().arg("check").arg(&list).args([
        "--lookalike-allow",
        "gmial.com",
        "gmial.com",
        "gmaill.com",
    ]));
    assert_eq!(
        stdout(&out),
        "gmial.com\tnone\ngmaill.com\tblock\tgmail.com\tlookalikes\tlookalike\tone letter away\n"
    );
    let out = run(bin()
        .arg("check")
        .arg(&list)
        .args(["--no-lookalikes", "gmial.com"]));
    assert_eq!(stdout(&out), "gmial.com\tnone\n");
    // A bad protected domain is a clear error.
    let out = run(bin()
        .arg("check")
        .arg(&list)
        .args(["--protect", "http://x", "gmial.com"]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"http://x\" is not a domain name"));
}
