//! One step at a time through the raw FST, with a short cut for the node
//! kind that makes up most of the walk. Lookups walk the FST only where the
//! hash index cannot answer (keys it marks "walk", names of more than 16
//! labels); see `index`.
//!
//! The tail of a key that no other key shares is a chain of nodes with one
//! transition leading to the node compiled just before it. The `fst` crate
//! stores such a node in one byte (two for an uncommon input) and reads it
//! through the general `Node` decoder, which dominates the walk for a listed
//! name. [`Cursor::step`] reads that one byte itself and asks `fst` for every
//! other node. Which byte stands for which input is learnt from `fst` itself
//! at start-up ([`OneNext::get`]), not copied from its sources; the matcher
//! tests compare every walk with `fst`'s own lookups.

use fst::raw::{CompiledAddr, Fst, Output};

/// Address `fst` gives its final node without transitions (stored in no bytes).
const EMPTY_FINAL: CompiledAddr = 0;
/// Top two bits of a one-transition node whose target is the next one down.
const ONE_NEXT: u8 = 0b1100_0000;

/// The inputs of one-transition-next nodes by their 6-bit code (0: the
/// input is the byte before the node), and which codes are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OneNext {
    input: [u8; 64],
    known: u64,
}

impl OneNext {
    /// The table of the `fst` version in `Cargo.lock` (its common-inputs
    /// order). Learning it costs 256 FST builds, about 16 ms, which every
    /// process paid on its first load; a test checks it against
    /// [`OneNext::learn`], so an `fst` upgrade that changes the encoding
    /// fails the build's tests instead of a lookup.
    pub(crate) fn get() -> OneNext {
        KNOWN
    }

    /// Learn the table from the `fst` crate's own encoder: for each byte
    /// `b`, the set `{[b, b]}` compiles its root to a one-transition-next
    /// node on `b`.
    #[cfg(test)]
    fn learn() -> OneNext {
        {
            let mut table = OneNext {
                input: [0; 64],
                known: 0,
            };
            for b in 0..=255u8 {
                let Ok(set) = fst::Set::from_iter([[b, b]]) else {
                    continue;
                };
                let raw = set.as_fst();
                let root = raw.root();
                let Some(&state) = raw.as_bytes().get(root.addr()) else {
                    continue;
                };
                let code = state & 0b0011_1111;
                let single = root.len() == 1 && root.transition(0).inp == b;
                if state & ONE_NEXT == ONE_NEXT && code != 0 && single {
                    table.input[code as usize] = b;
                    table.known |= 1 << code;
                }
            }
            table
        }
    }
}

/// [`OneNext::get`]'s table: the inputs of `fst` 0.4's one-byte codes.
const KNOWN: OneNext = OneNext {
    input: *b"\0te/oasripcnw.hlm-du012g=:bf3y5&_4v9678k%?xCDASFIBEjPTzRNM+LOqHG",
    known: !1,
};

/// A position in the FST and the output gathered on the way to it.
pub(crate) struct Cursor<'f, D: AsRef<[u8]>> {
    fst: &'f Fst<D>,
    data: &'f [u8],
    one_next: &'f OneNext,
    addr: CompiledAddr,
    out: Output,
}

impl<'f, D: AsRef<[u8]>> Cursor<'f, D> {
    /// At the root, nothing gathered.
    #[inline]
    pub(crate) fn root(fst: &'f Fst<D>, one_next: &'f OneNext) -> Self {
        Cursor {
            fst,
            data: fst.as_bytes(),
            one_next,
            addr: fst.root().addr(),
            out: Output::zero(),
        }
    }

    /// Follow the transition on `b`; false (and no move) when there is none.
    #[inline]
    pub(crate) fn step(&mut self, b: u8) -> bool {
        let at = self.addr;
        if at != EMPTY_FINAL
            && let Some(&state) = self.data.get(at)
            && state & ONE_NEXT == ONE_NEXT
        {
            let code = state & 0b0011_1111;
            let (input, next) = if code == 0 {
                match at.checked_sub(1).and_then(|i| self.data.get(i)) {
                    Some(&input) => (input, at.wrapping_sub(2)),
                    None => return self.step_node(b),
                }
            } else if self.one_next.known & (1 << code) != 0 {
                (self.one_next.input[code as usize], at - 1)
            } else {
                return self.step_node(b);
            };
            if input != b {
                return false;
            }
            self.addr = next;
            return true;
        }
        self.step_node(b)
    }

    /// [`Cursor::step`] through `fst`'s own node decoder.
    #[inline]
    fn step_node(&mut self, b: u8) -> bool {
        let node = self.fst.node(self.addr);
        match node.find_input(b) {
            Some(i) => {
                let t = node.transition(i);
                self.out = self.out.cat(t.out);
                self.addr = t.addr;
                true
            }
            None => false,
        }
    }

    /// The key's value when the position is the end of a key.
    #[inline]
    pub(crate) fn final_value(&self) -> Option<u64> {
        if self.addr == EMPTY_FINAL {
            return Some(self.out.value());
        }
        // One-transition nodes are never final.
        if self
            .data
            .get(self.addr)
            .is_some_and(|s| s & 0b1000_0000 != 0)
        {
            return None;
        }
        let node = self.fst.node(self.addr);
        node.is_final()
            .then(|| self.out.cat(node.final_output()).value())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_built_in_one_next_table_is_what_fst_encodes() {
        assert_eq!(super::OneNext::get(), super::OneNext::learn());
    }
    use super::*;

    /// Walk `key` with the cursor; the value if it is a key.
    fn get(fst: &Fst<Vec<u8>>, key: &[u8]) -> Option<u64> {
        let table = OneNext::get();
        let mut at = Cursor::root(fst, &table);
        key.iter().all(|b| at.step(*b)).then(|| at.final_value())?
    }

    #[test]
    fn learns_every_byte_a_name_holds() {
        let table = OneNext::get();
        for b in (b'a'..=b'z').chain(b'0'..=b'9').chain([b'-', b'_', b'.']) {
            let known = (1..64).any(|c| table.known & (1 << c) != 0 && table.input[c] == b);
            assert!(known, "{}", b as char);
        }
    }

    #[test]
    fn agrees_with_fst_on_every_prefix_and_key() {
        let keys: Vec<Vec<u8>> = {
            let mut k: Vec<Vec<u8>> = [
                "com.example",
                "com.example.www",
                "com.examples",
                "org.a",
                "org.a.b.c.d",
                "org.\u{7f}x",
                "uk.co.x_y-z9",
            ]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .chain((0..300).map(|i| format!("net.h{i:x}q.z{}", i * 7919).into_bytes()))
            .chain([vec![0u8, 200, 255], vec![0u8, 200]])
            .collect();
            k.sort();
            k.dedup();
            k
        };
        let map = fst::Map::from_iter(keys.iter().enumerate().map(|(i, k)| (k, i as u64 * 3)))
            .expect("sorted keys");
        let raw = map.as_fst();
        for k in &keys {
            for end in 0..=k.len() {
                let probe = &k[..end];
                assert_eq!(
                    get(raw, probe),
                    raw.get(probe).map(|o| o.value()),
                    "{probe:?}"
                );
                let mut other = probe.to_vec();
                other.push(b'#');
                assert_eq!(get(raw, &other), raw.get(&other).map(|o| o.value()));
            }
        }
    }
}
