use super::*;

/// The value of the sample whose series (name and labels, as printed) is
/// exactly `series`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|line| {
        let (name, value) = line.rsplit_once(' ')?;
        (name == series).then(|| value.parse().ok())?
    })
}

/// Every series of every metric exists at zero: see
/// `catalog::tests::every_catalog_series_exists_at_zero_before_any_query`,
/// which takes the series from the catalog instead of a hand-copied list.
#[test]
fn exposition_is_openmetrics_with_units() {
    let text = Metrics::new().encode();
    assert!(
        text.ends_with("# EOF\n"),
        "OpenMetrics needs the EOF marker"
    );
    assert!(text.contains("# TYPE parapet_upstream_latency_seconds histogram"));
    assert!(text.contains("# UNIT parapet_upstream_latency_seconds seconds"));
}

#[test]
fn recording_moves_exactly_the_right_series() {
    let m = Metrics::new();
    m.record_list(10, 3, 1_000, ["phishing"]);
    m.record_query(Protocol::Udp, OutcomeKind::Blocked);
    m.record_query(Protocol::Udp, OutcomeKind::Blocked);
    m.record_query(Protocol::Https, OutcomeKind::Forwarded);
    m.record_block(Trigger::Cname, Some("phishing"));
    m.record_block(Trigger::Name, None);
    m.record_upstream(Duration::from_millis(3), false);
    m.record_upstream(Duration::from_micros(100), true);
    m.record_upstream_failure(UpstreamFailure::Timeout);
    m.record_reload(ReloadResult::Failed);
    m.record_querylog_dropped();
    m.record_token_refusal(TokenRefusal::Revoked);
    let text = m.encode();
    let get = |series: &str| sample(&text, series).unwrap_or(-1.0);

    assert_eq!(
        get("parapet_queries_total{protocol=\"udp\",outcome=\"blocked\"}"),
        2.0
    );
    assert_eq!(
        get("parapet_queries_total{protocol=\"https\",outcome=\"forwarded\"}"),
        1.0
    );
    assert_eq!(
        get("parapet_queries_total{protocol=\"tcp\",outcome=\"blocked\"}"),
        0.0
    );
    assert_eq!(
        get("parapet_blocks_by_trigger_total{trigger=\"cname\"}"),
        1.0
    );
    assert_eq!(
        get("parapet_blocks_by_trigger_total{trigger=\"name\"}"),
        1.0
    );
    assert_eq!(get("parapet_blocks_by_trigger_total{trigger=\"ip\"}"), 0.0);
    assert_eq!(
        get("parapet_blocks_by_category_total{category=\"phishing\"}"),
        1.0
    );
    assert_eq!(
        get("parapet_blocks_by_category_total{category=\"none\"}"),
        1.0
    );
    // The cache hit is counted as a hit, not as an upstream's latency.
    assert_eq!(get("parapet_upstream_latency_seconds_count"), 1.0);
    assert_eq!(
        get("parapet_upstream_latency_seconds_bucket{le=\"0.0025\"}"),
        0.0
    );
    assert_eq!(
        get("parapet_upstream_latency_seconds_bucket{le=\"0.005\"}"),
        1.0
    );
    assert_eq!(get("parapet_cache_hits_total"), 1.0);
    assert_eq!(get("parapet_cache_misses_total"), 1.0);
    assert_eq!(
        get("parapet_upstream_failures_total{reason=\"timeout\"}"),
        1.0
    );
    assert_eq!(get("parapet_reloads_total{result=\"failed\"}"), 1.0);
    assert_eq!(get("parapet_reloads_total{result=\"ok\"}"), 0.0);
    assert_eq!(get("parapet_list_rules{kind=\"domain\"}"), 10.0);
    assert_eq!(get("parapet_list_rules{kind=\"ip\"}"), 3.0);
    assert_eq!(get("parapet_list_built_timestamp_seconds"), 1_000.0);
    assert_eq!(get("parapet_querylog_records_dropped_total"), 1.0);
    assert_eq!(get("parapet_token_refusals_total{reason=\"revoked\"}"), 1.0);
    assert_eq!(get("parapet_token_refusals_total{reason=\"unknown\"}"), 0.0);
}

#[test]
fn list_age_is_computed_at_scrape_time() {
    let m = Metrics::new();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    m.record_list(1, 0, now - 3_600, []);
    let age = sample(&m.encode(), "parapet_list_age_seconds").expect("age present");
    // The scrape happens within seconds of `now`.
    assert!((3_600.0..3_700.0).contains(&age), "age {age}");
}

#[test]
fn labels_never_include_names_or_addresses() {
    let m = Metrics::new();
    m.record_list(1, 1, 1, ["evil.example", "192.0.2.1", "malware"]);
    m.record_block(Trigger::Name, Some("evil.example"));
    let text = m.encode();
    assert!(!text.contains("evil.example"), "{text}");
    assert!(!text.contains("192.0.2.1"), "{text}");
    assert_eq!(
        sample(
            &text,
            "parapet_blocks_by_category_total{category=\"other\"}"
        ),
        Some(1.0)
    );
}
