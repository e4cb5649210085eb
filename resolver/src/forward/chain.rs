//! CNAME chains in an answer section.

use hickory_proto::rr::{Name, RData, Record};

/// The chain of CNAMEs from `name` through `answers` comes back to a name
/// it passed (a loop), rather than ending.
pub(super) fn loops(name: &Name, answers: &[Record]) -> bool {
    let mut seen: Vec<&Name> = Vec::new();
    let mut current = name;
    // Each step follows one record, so a chain is at most as long as the
    // section; a longer walk has looped.
    for _ in 0..=answers.len() {
        let next = answers.iter().find_map(|r| match &r.data {
            RData::CNAME(target) if r.name == *current => Some(&target.0),
            _ => None,
        });
        let Some(next) = next else {
            return false;
        };
        if next == name || seen.contains(&next) {
            return true;
        }
        seen.push(next);
        current = next;
    }
    true
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use hickory_proto::rr::rdata::{A, CNAME};

    use super::*;

    fn n(s: &str) -> Name {
        Name::from_str(s).expect("name")
    }

    fn cname(from: &str, to: &str) -> Record {
        Record::from_rdata(n(from), 60, RData::CNAME(CNAME(n(to))))
    }

    #[test]
    fn a_chain_that_ends_does_not_loop() {
        let a = Record::from_rdata(n("c.example."), 60, RData::A(A::new(192, 0, 2, 1)));
        let answers = [
            cname("a.example.", "b.example."),
            cname("B.example.", "c.example."),
            a,
        ];
        assert!(!loops(&n("A.example."), &answers));
        assert!(!loops(&n("a.example."), &[]), "no answer");
    }

    #[test]
    fn a_chain_back_to_any_name_it_passed_loops() {
        let to_self = [cname("a.example.", "A.example.")];
        assert!(loops(&n("a.example."), &to_self));
        let back = [
            cname("a.example.", "b.example."),
            cname("b.example.", "c.example."),
            cname("c.example.", "b.example."),
        ];
        assert!(loops(&n("a.example."), &back));
    }
}
