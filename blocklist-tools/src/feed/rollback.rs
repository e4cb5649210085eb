//! Replay protection for signed feeds, from minisign's trusted comment.
//!
//! `minisign -S` signs a trusted comment with the file, by default
//! `timestamp:<unix seconds>\tfile:<name>\thashed`. A valid signature alone
//! does not stop an attacker on the path from serving yesterday's signed
//! list, or another feed's list signed with the same key. So a signed copy
//! is accepted only when its `timestamp:` is newer than the last accepted
//! one of the same feed, and when its `file:` (if present) names the feed's
//! file. The same timestamp with the same content is the copy already in
//! use (unchanged); the same timestamp with other content is refused.

/// The fields of a trusted comment that matter here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TrustedComment {
    /// `timestamp:` seconds since the Unix epoch.
    pub timestamp: u64,
    /// `file:` name, when present.
    pub file: Option<String>,
}

impl TrustedComment {
    /// Parse the tab-separated `key:value` fields of `comment`. A comment
    /// without a `timestamp:` is refused: without it a replay cannot be told
    /// from an update.
    pub(crate) fn parse(comment: &str) -> Result<TrustedComment, String> {
        let mut timestamp = None;
        let mut file = None;
        for field in comment.split('\t') {
            if let Some(value) = field.strip_prefix("timestamp:") {
                let value = value.trim().parse::<u64>().map_err(|_| {
                    format!("signature's trusted comment has a bad timestamp: {value:?}")
                })?;
                timestamp = Some(value);
            } else if let Some(value) = field.strip_prefix("file:") {
                file = Some(value.to_string());
            }
        }
        let timestamp = timestamp.ok_or_else(|| {
            format!(
                "signature's trusted comment {comment:?} has no timestamp: sign with minisign's \
                 default trusted comment (or -t \"timestamp:<unix seconds>\\tfile:<name>\")"
            )
        })?;
        Ok(TrustedComment { timestamp, file })
    }
}

/// What the trusted comment says about a verified copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Newer than the last accepted copy (or the first one): accept it.
    Newer,
    /// The copy in use, served again.
    Same,
}

/// Check a verified copy's trusted `comment` against the feed's file name
/// (`expected_file`), the last accepted signature time (`last`) and whether
/// the content equals the copy in use (`same_content`).
pub(crate) fn check(
    comment: &str,
    expected_file: Option<&str>,
    last: Option<u64>,
    same_content: bool,
) -> Result<(Freshness, u64), String> {
    let trusted = TrustedComment::parse(comment)?;
    if let (Some(file), Some(expected)) = (&trusted.file, expected_file)
        && file != expected
    {
        return Err(format!(
            "signed for file {file:?}, not this feed's {expected:?} (another list signed with the same key)"
        ));
    }
    let Some(last) = last else {
        return Ok((Freshness::Newer, trusted.timestamp));
    };
    match trusted.timestamp.cmp(&last) {
        std::cmp::Ordering::Greater => Ok((Freshness::Newer, trusted.timestamp)),
        std::cmp::Ordering::Equal if same_content => Ok((Freshness::Same, trusted.timestamp)),
        std::cmp::Ordering::Equal => Err(format!(
            "signed at {} like the copy in use but with other content (replayed or re-signed)",
            trusted.timestamp
        )),
        std::cmp::Ordering::Less => Err(format!(
            "signed at {}, older than the copy in use (signed at {last}): a replayed old list",
            trusted.timestamp
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEFAULT: &str = "timestamp:1700000000\tfile:list.txt\thashed";

    #[test]
    fn default_comment_parses() {
        let t = TrustedComment::parse(DEFAULT).unwrap();
        assert_eq!(t.timestamp, 1_700_000_000);
        assert_eq!(t.file.as_deref(), Some("list.txt"));
        assert_eq!(
            TrustedComment::parse("timestamp:5").unwrap().file,
            None,
            "file: is optional"
        );
    }

    #[test]
    fn comment_without_timestamp_is_refused() {
        for bad in ["", "hello", "timestamp:soon\tfile:x", "file:list.txt"] {
            assert!(TrustedComment::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn only_newer_signatures_pass() {
        let f = Some("list.txt");
        assert_eq!(
            check(DEFAULT, f, None, false),
            Ok((Freshness::Newer, 1_700_000_000))
        );
        assert_eq!(
            check(DEFAULT, f, Some(1_699_999_999), false).unwrap().0,
            Freshness::Newer
        );
        assert_eq!(
            check(DEFAULT, f, Some(1_700_000_000), true).unwrap().0,
            Freshness::Same
        );
        let replay = check(DEFAULT, f, Some(1_700_000_001), true).unwrap_err();
        assert!(replay.contains("older"), "{replay}");
        let resigned = check(DEFAULT, f, Some(1_700_000_000), false).unwrap_err();
        assert!(resigned.contains("other content"), "{resigned}");
    }

    #[test]
    fn file_must_name_the_feed_when_both_are_known() {
        let err = check(DEFAULT, Some("other.txt"), None, false).unwrap_err();
        assert!(err.contains("\"list.txt\""), "{err}");
        assert!(check(DEFAULT, None, None, false).is_ok());
        assert!(check("timestamp:1", Some("other.txt"), None, false).is_ok());
    }
}
