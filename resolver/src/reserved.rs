//! parapet's reserved test names, answered whatever the lists say:
//!
//! - `check.parapet.test` ([`CHECK_NAME`]) always gets the sinkhole address
//!   (A: `sinkhole_ipv4`, AAAA: `sinkhole_ipv6` or NODATA, other types
//!   NODATA), whatever `[block] action` is, so a browser reaches the
//!   warning-page server, which answers that Host with "this device is
//!   protected" ([`crate::status`]). The `.test` top-level domain never
//!   resolves on the public internet (RFC 6761), so a device that does not
//!   use parapet gets an error instead.
//! - `blocked.parapet.test` ([`BLOCKED_NAME`]) is always blocked: the normal
//!   block answer with Extended DNS Error 15, and the normal warning page.
//!
//! Both are decided before the list check, so no feed or allow rule can
//! remove them. Only the exact names are reserved (any case, with or without
//! the trailing dot); names under them go through the normal path.

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{A, AAAA};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use parapet_blocklist::{Action, RuleInfo, Scope, SourceInfo};

use crate::answer::{self, Synthesised};
use crate::config::BlockConfig;

/// The name that says "this device is protected".
pub(crate) const CHECK_NAME: &str = "check.parapet.test";
/// The name that is always blocked.
pub(crate) const BLOCKED_NAME: &str = "blocked.parapet.test";
/// The source a block of [`BLOCKED_NAME`] is attributed to (EDE text,
/// warning page).
pub(crate) const SOURCE: &str = "parapet";
/// The category of that block.
pub(crate) const CATEGORY: &str = "test";

/// The labels both names share, after their first.
const SUFFIX: [&[u8]; 2] = [b"parapet", b"test"];

/// A reserved name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reserved {
    /// `check.parapet.test`: answered with the sinkhole address.
    Check,
    /// `blocked.parapet.test`: always blocked.
    Blocked,
}

/// Which reserved name a name of `count` labels, given first label first,
/// is (any case). One comparison for every name that is not three labels
/// long.
pub(crate) fn of_labels<'a>(
    count: usize,
    mut labels: impl Iterator<Item = &'a [u8]>,
) -> Option<Reserved> {
    if count != 3 {
        return None;
    }
    let first = labels.next()?;
    let kind = if first.eq_ignore_ascii_case(b"check") {
        Reserved::Check
    } else if first.eq_ignore_ascii_case(b"blocked") {
        Reserved::Blocked
    } else {
        return None;
    };
    SUFFIX
        .iter()
        .all(|want| labels.next().is_some_and(|l| l.eq_ignore_ascii_case(want)))
        .then_some(kind)
}

/// Which reserved name `name` is.
pub(crate) fn of_name(name: &Name) -> Option<Reserved> {
    of_labels(usize::from(name.num_labels()), name.iter())
}

/// Which reserved name the host `ascii` (lower case, no trailing dot, as
/// [`crate::warning::host::HostName`] holds it) is.
pub(crate) fn of_host(ascii: &str) -> Option<Reserved> {
    match ascii {
        CHECK_NAME => Some(Reserved::Check),
        BLOCKED_NAME => Some(Reserved::Blocked),
        _ => None,
    }
}

/// The answer to a reserved name, with the Extended DNS Error it carries
/// (INFO-CODE, text) when it has one.
pub(crate) fn answer(
    kind: Reserved,
    block: &BlockConfig,
    qname: &Name,
    qtype: RecordType,
) -> (Synthesised, Option<(u16, String)>) {
    match kind {
        Reserved::Check => (sinkhole(block, qname, qtype), None),
        Reserved::Blocked => {
            let text = answer::ede_text(
                block,
                SourceInfo {
                    name: SOURCE,
                    category: Some(CATEGORY),
                },
            );
            (
                answer::blocked(block, qname, qtype),
                Some((answer::EDE_BLOCKED, text)),
            )
        }
    }
}

/// The sinkhole answer whatever the block action: A gets `sinkhole_ipv4`,
/// AAAA `sinkhole_ipv6` (NODATA when unset), other types NODATA.
fn sinkhole(block: &BlockConfig, qname: &Name, qtype: RecordType) -> Synthesised {
    let data = match qtype {
        RecordType::A => Some(RData::A(A(block.sinkhole_ipv4))),
        RecordType::AAAA => block.sinkhole_ipv6.map(|ip| RData::AAAA(AAAA(ip))),
        _ => None,
    };
    match data {
        Some(data) => Synthesised {
            rcode: ResponseCode::NoError,
            answers: vec![Record::from_rdata(qname.clone(), block.ttl, data)],
            authorities: Vec::new(),
        },
        None => Synthesised {
            rcode: ResponseCode::NoError,
            answers: Vec::new(),
            authorities: vec![answer::soa(qname, block.ttl)],
        },
    }
}

/// The rule the warning page explains a block of [`BLOCKED_NAME`] with.
pub(crate) fn blocked_rule() -> RuleInfo {
    RuleInfo {
        pattern: BLOCKED_NAME.to_string(),
        action: Action::Block,
        scope: Scope::Exact,
        source: SOURCE.to_string(),
        category: Some(CATEGORY.to_string()),
    }
}

/// What `parapet explain` says about a reserved name: the warning for
/// [`BLOCKED_NAME`], a note for [`CHECK_NAME`].
pub(crate) fn explain(
    host: &crate::warning::host::HostName,
    config: &crate::warning::config::WarningPageConfig,
) -> crate::warning::notice::Notice {
    use crate::warning::notice;
    match of_host(&host.ascii) {
        Some(Reserved::Blocked) => notice::blocked(host, &blocked_rule(), config),
        _ => notice::reserved_check(host),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_names_in_any_case() {
        for (name, want) in [
            ("check.parapet.test.", Some(Reserved::Check)),
            ("CHECK.Parapet.TEST", Some(Reserved::Check)),
            ("blocked.parapet.test.", Some(Reserved::Blocked)),
            ("x.check.parapet.test.", None),
            ("check.parapet.test.example.", None),
            ("check.parapet.example.", None),
            ("parapet.test.", None),
            ("checks.parapet.test.", None),
            ("www.example.com.", None),
        ] {
            let n = Name::from_ascii(name).expect("name");
            assert_eq!(of_name(&n), want, "{name}");
        }
        assert_eq!(of_host("check.parapet.test"), Some(Reserved::Check));
        assert_eq!(of_host("blocked.parapet.test"), Some(Reserved::Blocked));
        assert_eq!(of_host("example.test"), None);
    }

    #[test]
    fn check_is_the_sinkhole_whatever_the_action() {
        let text = "[upstream]\nservers=[\"127.0.0.1:53\"]\n[block]\naction = \"nxdomain\"\n\
                    sinkhole_ipv4 = \"192.0.2.1\"\nttl = 42\n";
        let block = crate::config::from_toml_str(text, std::path::Path::new("."))
            .expect("config")
            .block;
        let name = Name::from_ascii(CHECK_NAME).expect("name");
        let (a, ede) = answer(Reserved::Check, &block, &name, RecordType::A);
        assert_eq!(ede, None);
        assert_eq!(a.rcode, ResponseCode::NoError);
        assert_eq!(a.answers[0].data, RData::A(A([192, 0, 2, 1].into())));
        assert_eq!(a.answers[0].ttl, 42);
        let (aaaa, _) = answer(Reserved::Check, &block, &name, RecordType::AAAA);
        assert!(aaaa.answers.is_empty() && aaaa.rcode == ResponseCode::NoError);
        let name = Name::from_ascii(BLOCKED_NAME).expect("name");
        let (blocked, ede) = answer(Reserved::Blocked, &block, &name, RecordType::A);
        assert_eq!(
            blocked.rcode,
            ResponseCode::NXDomain,
            "the normal block action"
        );
        assert_eq!(
            ede,
            Some((15, "Blocked: test (source: parapet)".to_string()))
        );
    }

    #[test]
    fn explain_speaks_of_the_reserved_names() {
        let config = crate::warning::config::WarningPageConfig::default();
        let lists = crate::reload::empty().expect("empty list");
        let text = crate::warning::explain(&lists, "http://blocked.parapet.test/", &config);
        assert!(text.contains("this site was blocked"), "{text}");
        let text = crate::warning::explain(&lists, "check.parapet.test", &config);
        assert!(text.contains("check name: always answered"), "{text}");
    }
}
