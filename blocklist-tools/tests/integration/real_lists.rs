//! Every real list in ../shared/data compiles: its format is detected, most
//! of its lines become rules, bad lines are counted, nothing aborts.

use parapet_blocklist::{Blocklist, CompileOptions, Format, SourceSpec};

#[test]
fn every_real_list_compiles_with_its_format_detected() {
    // Long on purpose: a table of every real list with the format and the
    // counts it must give, read in one pass over the data directory.
    let test = "every_real_list_compiles_with_its_format_detected";
    let Some(hosts) =
        parapet_test_support::data(&parapet_blocklist::data_dir().join("hosts"), test)
    else {
        return;
    };
    let dir = hosts.parent().expect("hosts has a parent").to_path_buf();
    // (file, expected format, minimum rules)
    let cases: &[(&str, Format, u64)] = &[
        (
            "hosts/blocklistproject_ransomware.hosts",
            Format::Hosts,
            1_800,
        ),
        ("hosts/blocklistproject_scam.hosts", Format::Hosts, 8_000),
        (
            "hosts/dandelionsprout_antimalware.hosts",
            Format::Hosts,
            10_000,
        ),
        ("hosts/hagezi_light.hosts.gz", Format::Hosts, 80_000),
        (
            "domains/hagezi_fake_onlydomains.txt",
            Format::Domains,
            16_000,
        ),
        (
            "domains/jarelllama_scams_light.txt",
            Format::Domains,
            18_000,
        ),
        (
            "domains/urlhaus_hosts_via_romainmarcoux.txt",
            Format::Domains,
            5_500,
        ),
        (
            "domains/phishing_army_via_romainmarcoux.txt",
            Format::Domains,
            15_000,
        ),
        ("adblock/hagezi_fake.adblock.txt", Format::Adblock, 16_000),
        ("adblock/hagezi_spam_tlds.adblock.txt", Format::Adblock, 0),
        (
            "adblock/hagezi_spam_tlds_allow.adblock.txt",
            Format::Adblock,
            900,
        ),
        (
            "adblock/hagezi_whitelist_referral.adblock.txt",
            Format::Adblock,
            500,
        ),
        (
            "adblock/jarelllama_scams_light.adblock.txt",
            Format::Adblock,
            18_000,
        ),
        (
            "adblock/dandelionsprout_antimalware_adguardhome.txt",
            Format::Adblock,
            5_000,
        ),
        (
            "adblock/dandelionsprout_antimalware_abp.txt",
            Format::Adblock,
            1_000,
        ),
        ("rpz/hagezi_fake.rpz", Format::Rpz, 30_000),
        ("rpz/hagezi_dyndns.rpz", Format::Rpz, 2_000),
        ("rpz/hagezi_doh.rpz", Format::Rpz, 5_000),
        ("rpz/hagezi_tif_ips.rpz.gz", Format::Rpz, 59_000),
        ("dnsmasq/hagezi_fake.dnsmasq.conf", Format::Dnsmasq, 16_000),
        // The 2021 Feodo copy holds only comments: nothing to detect.
        ("ips/feodo_badips_2021.ipset", Format::Domains, 0),
        ("ips/firehol_level1_2021.netset", Format::Ip, 2_500),
        ("ips/spamhaus_drop_2021.netset", Format::Ip, 900),
        ("ips/hagezi_tif_ips.txt", Format::Ip, 59_000),
        ("ips/hagezi_nameserver_ips_v4v6.txt.gz", Format::Ip, 98_000),
        ("ips/ipsum.txt.gz", Format::Ip, 120_000),
        ("ips/ipsum_level3.txt", Format::Ip, 14_000),
        ("ips/maltrail_mass_scanner_cidr.txt", Format::Ip, 1_000),
        ("ips/usom_ips_v4v6.txt", Format::Ip, 15_000),
        (
            "messy/urlhaus_hosts_CRLF_converted.txt",
            Format::Domains,
            5_500,
        ),
    ];
    let mut failures = Vec::new();
    for (file, format, min) in cases {
        let spec = SourceSpec::new(dir.join(file));
        let (list, reports) = Blocklist::compile(&[spec], CompileOptions::default()).unwrap();
        let r = &reports[0];
        let rules = r.domain_rules + r.ip_rules;
        // A detected format keeps no exceptions: allowlists count them dropped.
        if r.format != Some(*format) || rules + r.exceptions_dropped < *min {
            failures.push(format!(
                "{file}: {:?}, {rules} rules, {} skipped: {:?}",
                r.format,
                r.skipped,
                r.errors.first()
            ));
        }
        // Skipped lines are reported with a line number and a reason.
        assert!(
            r.errors.iter().all(|e| e.line > 0 && !e.reason.is_empty()),
            "{file}"
        );
        assert_eq!(list.stats().sources[0].3, rules, "{file}");
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn messy_maltrail_trails_compile_and_skip_only_junk() {
    let path = parapet_blocklist::data_dir().join("messy/maltrail_raw_malicious_suspicious.txt.gz");
    let test = "messy_maltrail_trails_compile_and_skip_only_junk";
    if parapet_test_support::data(&path, test).is_none() {
        return;
    }
    let mut spec = SourceSpec::new(&path);
    spec.format = Some(Format::Domains);
    let (list, reports) = Blocklist::compile(&[spec], CompileOptions::default()).unwrap();
    let r = &reports[0];
    assert!(r.domain_rules > 200_000, "{r:?}");
    assert!(
        r.skipped > 1_000,
        "URLs, IP:port and regex lines must be skipped: {}",
        r.skipped
    );
    let reasons: std::collections::BTreeSet<&str> = r
        .errors
        .iter()
        .map(|e| e.reason.split(':').next().unwrap_or(""))
        .collect();
    assert!(list.stats().domain_rules > 200_000);
    assert!(!reasons.is_empty());
}

#[test]
fn denyallow_hints_do_not_drop_typosquat_rules() {
    // DandelionSprout marks typo-squats with `$denyallow=` names that lie
    // outside the rule (`you-were-likely-looking-for-…`): the rule applies.
    let path =
        parapet_blocklist::data_dir().join("adblock/dandelionsprout_antimalware_adguardhome.txt");
    if parapet_test_support::data(&path, "denyallow_hints_do_not_drop_typosquat_rules").is_none() {
        return;
    }
    let (list, _) =
        Blocklist::compile(&[SourceSpec::new(&path)], CompileOptions::default()).unwrap();
    for name in ["ubuntu.org", "www.githu.com", "snapchat.cm"] {
        assert!(list.check_name(name).is_block(), "{name}");
    }
    // The hint names themselves are not listed.
    assert!(
        !list
            .check_name("you-were-likely-looking-for-ubuntu.com")
            .is_block()
    );
}
