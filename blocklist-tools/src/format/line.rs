//! What every line parser shares: the line result, comments, address tokens.

use std::net::IpAddr;

use ipnet::IpNet;

/// What a line turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Blank or comment.
    Comment,
    /// Valid for its format but not DNS-relevant (cosmetic rules, options we do not apply).
    Ignored,
    /// One or more rules were pushed.
    Rules,
}

/// The result of parsing one line: its kind, or why it was skipped. A line
/// may push good rules and still report an error (one bad name of several).
pub(crate) type LineResult = Result<Kind, String>;

/// Cut an inline comment starting at `marker` (at line start or after whitespace).
pub(crate) fn strip_comment(line: &str, marker: char) -> &str {
    let bytes = line.as_bytes();
    for (i, c) in line.char_indices() {
        if c == marker && (i == 0 || bytes[i - 1].is_ascii_whitespace()) {
            return &line[..i];
        }
    }
    line
}

/// Whether `token` is an IP address or a CIDR range.
pub(crate) fn is_ip_or_net(token: &str) -> bool {
    token.parse::<IpAddr>().is_ok() || token.parse::<IpNet>().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_comment_needs_whitespace_before_marker() {
        assert_eq!(strip_comment("a.example # c", '#'), "a.example ");
        assert_eq!(strip_comment("a#b", '#'), "a#b");
        assert_eq!(strip_comment("# c", '#'), "");
    }
}
