use crate::answer::EDE_NO_REACHABLE_AUTHORITY;
use std::io;
use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;

use super::*;

/// A log sink the test reads back.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn failures_get_ede_22_and_one_warn_line_per_interval_naming_the_upstream() {
    // An upstream that receives and never answers.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind");
    let addr = udp.local_addr().expect("addr");
    let config = crate::config::from_toml_str(
        &format!("[upstream]\nservers = [\"{addr}\"]\ntimeout_ms = 200\nattempts = 1\n"),
        Path::new("."),
    )
    .expect("config");
    let forwarder = Forwarder::new(&config.upstream).expect("forwarder");
    let log = Capture::default();
    let sink = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || sink.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let name = Name::from_str("www.example.").expect("name");
    for _ in 0..3 {
        let error = forwarder
            .forward(&name, RecordType::A, DnssecFlags::default())
            .await
            .expect_err("no answer");
        assert_eq!(error.ede_code(), EDE_NO_REACHABLE_AUTHORITY, "{error}");
    }
    let text = String::from_utf8(log.0.lock().expect("log").clone()).expect("utf-8");
    assert_eq!(
        text.matches("upstream failure: answered with a stale answer")
            .count(),
        1,
        "three failures within 10 s, one line: {text}"
    );
    assert!(text.contains("WARN"), "{text}");
    assert!(
        text.contains(&addr.to_string()),
        "names the upstream: {text}"
    );
    assert!(
        text.contains("no upstream answered"),
        "names the error: {text}"
    );
    drop(udp);
}

#[tokio::test]
async fn ttls_with_the_top_bit_set_count_as_zero_and_long_ones_are_capped() {
    let mut records = Vec::new();
    for (name, ttl) in [
        ("max.example.", u32::MAX),
        ("top.example.", 1 << 31),
        ("long.example.", 10_000_000),
        ("day.example.", 86_400),
    ] {
        let mut r = parapet_test_support::scripted::a(name, [192, 0, 2, 1]);
        r.ttl = ttl;
        records.push(r);
    }
    let up = parapet_test_support::scripted::ScriptedServer::start(records).await;
    let config = crate::config::from_toml_str(
        &format!("[upstream]\nservers = [\"{}\"]\n", up.addr()),
        Path::new("."),
    )
    .expect("config");
    let forwarder = Forwarder::new(&config.upstream).expect("forwarder");
    for (name, want) in [
        ("max.example.", 0),
        ("top.example.", 0),
        ("long.example.", MAX_TTL),
        ("day.example.", 86_400),
    ] {
        let answer = forwarder
            .forward(
                &Name::from_str(name).expect("name"),
                RecordType::A,
                DnssecFlags::default(),
            )
            .await
            .expect("answer");
        assert_eq!(answer.answers.len(), 1, "{name}");
        assert_eq!(answer.answers[0].ttl, want, "{name}");
    }
}
