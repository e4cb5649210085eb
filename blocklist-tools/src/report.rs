//! The one rule for "is this a list?", shared by `parapet-blocklist
//! compile`, `parapet check-config` and the server.

use crate::format::Format;
use crate::source::SourceReport;

/// Malformed lines named in a refusal.
const REFUSAL_LINES: usize = 3;

impl SourceReport {
    /// Lines skipped as malformed (not refused by policy).
    pub fn malformed(&self) -> u64 {
        self.skipped.saturating_sub(self.refused)
    }

    /// Why this source is not a list, or `None` when it is one. The one rule
    /// that `parapet-blocklist compile`, `parapet check-config` and the
    /// server apply: a source with at least as many malformed lines as rules
    /// is probably not a list at all (an HTML error page, a truncated
    /// download, the wrong format). The text names the first malformed lines.
    pub fn refusal(&self) -> Option<String> {
        let rules = self.domain_rules + self.ip_rules;
        let malformed = self.malformed();
        if malformed == 0 || malformed < rules.max(1) {
            return None;
        }
        let format = self.format.map_or("?", Format::name);
        let mut text = format!(
            "{}: {malformed} malformed lines against {rules} rules as {format}: not a list (wrong format?); first malformed lines:",
            self.path.display()
        );
        let path = self.path.display();
        for e in self
            .errors
            .iter()
            .filter(|e| !e.refused)
            .take(REFUSAL_LINES)
        {
            text.push_str(&format!("\n  {path}:{}: {} ({})", e.line, e.text, e.reason));
        }
        Some(text)
    }
}
