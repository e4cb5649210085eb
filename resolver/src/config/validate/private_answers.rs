//! `[block] private_answers` and `private_answers_allow` (DNS rebinding
//! protection).

use crate::config::issue::Issues;
use crate::config::types::{DEFAULT_PRIVATE_ANSWERS_ALLOW, PrivateAnswers};

/// `[block] private_answers`.
pub(super) fn private_answers(is: &mut Issues, raw: Option<&str>) -> PrivateAnswers {
    match raw {
        None | Some("allow") => PrivateAnswers::Allow,
        Some("block") => PrivateAnswers::Block,
        Some(other) => {
            is.push(
                "block.private_answers",
                format!("{other:?} is not one of allow, block"),
            );
            PrivateAnswers::Allow
        }
    }
}

/// `[block] private_answers_allow`: domain names, lower case, no trailing dot.
pub(super) fn private_answers_allow(is: &mut Issues, raw: Option<Vec<String>>) -> Vec<String> {
    let Some(raw) = raw else {
        return DEFAULT_PRIVATE_ANSWERS_ALLOW
            .iter()
            .map(|s| s.to_string())
            .collect();
    };
    let mut out = Vec::new();
    for (i, name) in raw.iter().enumerate() {
        let n = name.trim_end_matches('.').to_ascii_lowercase();
        let valid = !n.is_empty()
            && n.len() <= 253
            && n.split('.').all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && l.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            });
        if valid {
            out.push(n);
        } else {
            is.push(
                format!("block.private_answers_allow[{i}]"),
                format!("{name:?} is not a domain name"),
            );
        }
    }
    out
}
