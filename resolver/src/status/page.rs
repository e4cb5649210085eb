//! The words of the check page and the status page, as [`Notice`]s that
//! [`crate::warning::page`] renders like the warning page.

use crate::reserved::{BLOCKED_NAME, CHECK_NAME};
use crate::warning::config::WarningPageConfig;
use crate::warning::notice::{
    Block, Notice, Section, Span, Tone, contact_spans, footer, list_name, para, service, text,
};

use super::feeds::FeedReport;
use super::recent::Recent;

/// The state a page describes.
pub(super) struct Facts {
    /// Unix seconds.
    pub(super) now: u64,
    pub(super) has_list: bool,
    pub(super) block_rules: u64,
    pub(super) stats: parapet_blocklist::Stats,
    pub(super) feeds: Option<FeedReport>,
    pub(super) list_path: Option<std::path::PathBuf>,
    /// Queries answered and blocked today, when counted.
    pub(super) today: Option<(u64, u64)>,
}

impl Facts {
    /// Whether names are being blocked.
    pub(super) fn protected(&self) -> bool {
        self.has_list && self.block_rules > 0
    }
}

/// The page at `check.parapet.test`.
pub(super) fn check(facts: &Facts, config: &WarningPageConfig) -> Notice {
    let mut sections = Vec::new();
    let (title, tone) = if facts.protected() {
        sections.push(plain(vec![para(vec![text(format!(
            "This device is using {} (parapet). Sites known to spread malware or to steal \
             passwords are blocked before your device connects to them.",
            service(config)
        ))])]));
        ("This device is protected", Tone::Good)
    } else {
        sections.push(plain(vec![para(vec![text(format!(
            "This device is using {} (parapet), but {} Nothing is blocked until it has one.",
            service(config),
            no_protection_reason(facts)
        ))])]));
        (not_protected_title(facts), Tone::Warning)
    };
    let mut freshness = Vec::new();
    if facts.has_list {
        freshness.push(para(vec![text(list_sentence(facts))]));
    }
    freshness.push(para(vec![text(feeds_sentence(facts))]));
    sections.push(Section {
        heading: Some("How fresh is the list?"),
        blocks: freshness,
    });
    sections.push(Section {
        heading: Some("Try it"),
        blocks: vec![para(vec![
            text("Open "),
            Span::Code(format!("http://{BLOCKED_NAME}")),
            text(": you should see a red warning page. That is what a dangerous site looks like."),
        ])],
    });
    let mut tell = vec![text("If you open ")];
    tell.push(Span::Code(format!("http://{CHECK_NAME}")));
    tell.push(text(
        " and see an error instead of this page, this device is no longer protected. It may \
         be on another network (mobile data, someone else's Wi-Fi), a VPN or a browser's \
         \"secure DNS\" setting may be going around parapet, or the box may be switched off. \
         Tell ",
    ));
    tell.extend(contact_spans(config));
    tell.push(text("."));
    sections.push(Section {
        heading: Some("If this page ever stops showing"),
        blocks: vec![para(tell)],
    });
    Notice {
        title: title.into(),
        tone,
        sections,
        footer: footer(config),
    }
}

/// The status page for the person who runs the box.
pub(super) fn status(facts: &Facts, recent: &Recent, config: &WarningPageConfig) -> Notice {
    let protection = if facts.protected() {
        format!(
            "On: {} names and addresses are blocked.",
            count(facts.block_rules)
        )
    } else {
        format!("OFF: {}", no_protection_reason(facts))
    };
    let mut list = vec![para(vec![Span::Strong(protection)])];
    if facts.has_list {
        list.push(para(vec![text(list_sentence(facts))]));
        let sources: Vec<String> = facts
            .stats
            .sources
            .iter()
            .map(|(name, _, _, rules)| format!("{} ({})", list_name(name), count(*rules)))
            .collect();
        list.push(para(vec![text(format!(
            "Made from: {}.",
            sources.join(", ")
        ))]));
    }
    let mut sections = vec![
        Section {
            heading: Some("Protection"),
            blocks: list,
        },
        Section {
            heading: Some("Feeds"),
            blocks: feed_blocks(facts),
        },
        Section {
            heading: Some("Today (since 00:00 UTC)"),
            blocks: vec![para(vec![text(match facts.today {
                Some((queries, blocks)) => format!(
                    "{} queries answered, {} blocked.",
                    count(queries),
                    count(blocks)
                ),
                None => "Not counted here.".into(),
            })])],
        },
    ];
    sections.push(Section {
        heading: Some("Recently blocked"),
        blocks: recent_blocks(facts, recent),
    });
    Notice {
        title: "parapet status".into(),
        tone: if facts.protected() {
            Tone::Good
        } else {
            Tone::Warning
        },
        sections,
        footer: footer(config),
    }
}

/// The answer to a client outside `[access] allow` asking for the status page.
pub(super) fn refused(config: &WarningPageConfig) -> Notice {
    let mut spans = vec![text(
        "The status page is only shown to devices on the networks this resolver serves \
         ([access] allow). Questions? Contact ",
    )];
    spans.extend(contact_spans(config));
    spans.push(text("."));
    Notice {
        title: "Not available from here".into(),
        tone: Tone::Neutral,
        sections: vec![plain(vec![para(spans)])],
        footer: footer(config),
    }
}

fn plain(blocks: Vec<Block>) -> Section {
    Section {
        heading: None,
        blocks,
    }
}

fn not_protected_title(facts: &Facts) -> &'static str {
    if facts.has_list {
        "Not protected: the list is empty"
    } else {
        "Not protected yet: no list"
    }
}

/// Why nothing is blocked, as the end of a sentence.
fn no_protection_reason(facts: &Facts) -> String {
    match (&facts.list_path, facts.has_list) {
        (_, true) => "the list in service is empty (did every feed fail?).".into(),
        (Some(path), false) => format!(
            "not protected yet: no list. The first feed update has not published {} yet; \
             protection starts as soon as it does.",
            path.display()
        ),
        (None, false) => "not protected yet: no list is configured ([blocklist]).".into(),
    }
}

/// "The list in service was built 2 hours ago (…) and holds N entries."
fn list_sentence(facts: &Facts) -> String {
    let s = &facts.stats;
    format!(
        "The list in service was built {} ({}) and holds {} entries ({} names, {} IP ranges).",
        ago(facts.now, s.built_at),
        utc(s.built_at),
        count(s.domain_rules + s.ip_rules),
        count(s.domain_rules),
        count(s.ip_rules)
    )
}

/// One sentence about the last feed update.
fn feeds_sentence(facts: &Facts) -> String {
    let Some(report) = &facts.feeds else {
        return "There is no record of a feed update on this box.".into();
    };
    let when = report
        .updated_at
        .map_or_else(String::new, |t| format!(", {},", ago(facts.now, t)));
    let failed: Vec<&str> = report
        .feeds
        .iter()
        .filter(|f| !f.up)
        .map(|f| f.name.as_str())
        .collect();
    let kept = if facts.has_list {
        "The list in service stays in use until the next update."
    } else {
        "There is no list yet."
    };
    if failed.is_empty() {
        format!("The last feed update{when} succeeded.")
    } else {
        format!(
            "The last feed update{when} did not fully succeed: {} failed. {kept}",
            failed.join(", ")
        )
    }
}

fn feed_blocks(facts: &Facts) -> Vec<Block> {
    let Some(report) = &facts.feeds else {
        return vec![para(vec![text(
            "No record of a feed update (parapet-blocklist update writes one beside the list).",
        )])];
    };
    let mut blocks = vec![para(vec![text(run_sentence(facts, report))])];
    let items = report
        .feeds
        .iter()
        .map(|f| {
            let mut spans = vec![Span::Strong(f.name.clone()), text(": ")];
            let result = match (&f.last_failure, f.up) {
                (Some((at, why)), false) => format!(
                    "FAILED {} ({why}); {}",
                    ago(facts.now, *at),
                    f.last_success.map_or("never updated".into(), |t| format!(
                        "last good update {}",
                        ago(facts.now, t)
                    ))
                ),
                _ => format!(
                    "ok, updated {}, {} rules",
                    f.last_success.map_or("never".into(), |t| ago(facts.now, t)),
                    count(f.rules)
                ),
            };
            spans.push(text(result));
            spans
        })
        .collect::<Vec<_>>();
    if !items.is_empty() {
        blocks.push(Block::List(items));
    }
    blocks
}

fn run_sentence(facts: &Facts, report: &FeedReport) -> String {
    let when = report.updated_at.map_or("at an unknown time".into(), |t| {
        format!("{} ({})", ago(facts.now, t), utc(t))
    });
    let published = match report.published {
        Some(true) => " and published a new list",
        Some(false) if facts.has_list => " and kept the previous list",
        Some(false) => " and published nothing: no list yet",
        None => "",
    };
    format!("The updater last ran {when}{published}.")
}

fn recent_blocks(facts: &Facts, recent: &Recent) -> Vec<Block> {
    if !recent.keeps_names() {
        return vec![para(vec![
            text("Names are not kept while the query log is off. Turn it on ("),
            Span::Code("[query_log] enabled = true".into()),
            text(") to see the most recent blocked names and which device asked."),
        ])];
    }
    let blocked = recent.blocked();
    if blocked.is_empty() {
        return vec![para(vec![text("Nothing blocked since parapet started.")])];
    }
    let items = blocked
        .into_iter()
        .map(|b| {
            let why = match &b.category {
                Some(c) => format!(" ({c}, list {})", list_name(&b.source)),
                None => format!(" (list {})", list_name(&b.source)),
            };
            let mut spans = vec![
                text(format!("{}: ", ago(facts.now, b.at))),
                Span::Code(b.name),
                text(why),
            ];
            if let Some(client) = b.client {
                spans.push(text(", asked by "));
                spans.push(Span::Code(client));
            }
            spans
        })
        .collect();
    let mut blocks = vec![Block::List(items)];
    if !recent.shows_devices() {
        blocks.push(para(vec![text(
            "Devices are not shown: the query log keeps no client addresses.",
        )]));
    }
    blocks
}

/// `1234567` → `1,234,567`.
fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "just now", "5 minutes ago", "3 hours ago", "2 days ago".
fn ago(now: u64, then: u64) -> String {
    let secs = now.saturating_sub(then);
    let (n, unit) = match secs {
        0..60 => return "just now".into(),
        60..3600 => (secs / 60, "minute"),
        3600..86_400 => (secs / 3600, "hour"),
        _ => (secs / 86_400, "day"),
    };
    format!("{n} {unit}{} ago", if n == 1 { "" } else { "s" })
}

/// `2026-11-30 01:02 UTC`.
fn utc(t: u64) -> String {
    let Ok(t) = time::OffsetDateTime::from_unix_timestamp(i64::try_from(t).unwrap_or(0)) else {
        return "unknown time".into();
    };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_times_read_well() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(ago(100, 100), "just now");
        assert_eq!(ago(3_700, 100), "1 hour ago");
        assert_eq!(ago(100 + 5 * 86_400, 100), "5 days ago");
        assert_eq!(utc(1_700_000_000), "2023-11-14 22:13 UTC");
    }

    #[test]
    fn no_list_says_not_protected_yet() {
        let facts = Facts {
            now: 0,
            has_list: false,
            block_rules: 0,
            stats: crate::reload::empty().expect("empty").stats(),
            feeds: None,
            list_path: Some("/var/lib/parapet/parapet.pbl".into()),
            today: Some((3, 1)),
        };
        let config = WarningPageConfig::default();
        let text = check(&facts, &config).to_text();
        assert!(text.contains("Not protected yet: no list"), "{text}");
        let text = status(&facts, &Recent::nothing(), &config).to_text();
        assert!(text.contains("not protected yet: no list"), "{text}");
        assert!(text.contains("query log is off"), "{text}");
        assert!(text.contains("3 queries answered, 1 blocked."), "{text}");
    }

    /// First boot, every feed failed: no previous list to speak of.
    #[test]
    fn a_failed_first_update_says_no_list_yet() {
        let report = FeedReport {
            updated_at: Some(100),
            published: Some(false),
            feeds: vec![super::super::feeds::Feed {
                name: "urlhaus".into(),
                up: false,
                rules: 0,
                last_success: None,
                last_failure: Some((100, "timeout".into())),
            }],
        };
        let mut facts = Facts {
            now: 160,
            has_list: false,
            block_rules: 0,
            stats: crate::reload::empty().expect("empty").stats(),
            feeds: Some(report),
            list_path: Some("/var/lib/parapet/parapet.pbl".into()),
            today: None,
        };
        let config = WarningPageConfig::default();
        let flat = |text: String| text.split_whitespace().collect::<Vec<_>>().join(" ");
        let check_text = flat(check(&facts, &config).to_text());
        let status_text = flat(status(&facts, &Recent::nothing(), &config).to_text());
        for text in [&check_text, &status_text] {
            assert!(!text.contains("previous list"), "{text}");
            assert!(!text.contains("stays in use"), "{text}");
        }
        assert!(
            check_text.contains("urlhaus failed. There is no list yet."),
            "{check_text}"
        );
        assert!(
            status_text.contains("published nothing: no list yet"),
            "{status_text}"
        );
        // With a list in service, it is the one kept.
        facts.has_list = true;
        let check_text = flat(check(&facts, &config).to_text());
        let status_text = flat(status(&facts, &Recent::nothing(), &config).to_text());
        assert!(
            check_text.contains("stays in use until the next update"),
            "{check_text}"
        );
        assert!(
            status_text.contains("kept the previous list"),
            "{status_text}"
        );
    }
}
