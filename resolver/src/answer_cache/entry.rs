//! One cached answer: its bytes, its times, and the list it passed.

use std::sync::Weak;

use hickory_proto::op::Message;
use parapet_blocklist::{Blocklist, Verdict};

use crate::event::Outcome;
use crate::policy;

/// One cached answer: a single allocation holding the key, the response
/// and the TTL offsets, plus a few fixed fields.
pub(super) struct Entry {
    /// Key bytes, then the response as first sent (ID and case of that
    /// query), then the offset of the TTL field of every record except OPT
    /// (big-endian `u16`s).
    pub(super) data: Box<[u8]>,
    pub(super) key_len: u16,
    pub(super) response_len: u16,
    /// Offset of the OPT record's class (payload size) field; 0 for none.
    pub(super) opt_at: u16,
    /// How long the answer may be kept, s.
    pub(super) keep: u32,
    /// When it was stored, ms after the cache's epoch.
    pub(super) inserted_ms: u64,
    /// The list snapshot the answer was inspected against.
    pub(super) list: Weak<Blocklist>,
    /// The look-alike check the name passed (the low 32 bits of
    /// [`crate::lookalike::Lookalikes::generation`]: a reload a second
    /// for a century to wrap).
    pub(super) checked: u32,
    pub(super) outcome: Outcome,
    /// Which insertion into the shard this is (matches its queue slot).
    pub(super) stamp: u32,
    /// Hits since it was queued or last passed over by eviction, 0-3.
    pub(super) freq: u8,
    /// In the main queue (else the small one).
    pub(super) in_main: bool,
    /// A background refresh was started for it (at most one per answer).
    pub(super) prefetching: bool,
}

impl Entry {
    pub(super) fn key(&self) -> &[u8] {
        &self.data[..usize::from(self.key_len)]
    }

    pub(super) fn response(&self) -> &[u8] {
        let start = usize::from(self.key_len);
        &self.data[start..start + usize::from(self.response_len)]
    }

    pub(super) fn ttl_offsets(&self) -> impl Iterator<Item = usize> + '_ {
        let start = usize::from(self.key_len) + usize::from(self.response_len);
        self.data[start..]
            .chunks_exact(2)
            .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    pub(super) fn expires_ms(&self) -> u64 {
        self.inserted_ms + u64::from(self.keep) * 1000
    }

    /// Whether this answer, inspected against an earlier list, passes
    /// `list` too: a forwarded answer whose name no rule of `list` covers
    /// and whose CNAME targets and addresses `list` does not block. Any
    /// other outcome, or a name with an exception, takes the full path.
    pub(super) fn passes(&self, list: &Blocklist) -> bool {
        if !matches!(
            self.outcome,
            Outcome::Forwarded { .. } | Outcome::Cached { .. }
        ) {
            return false;
        }
        let Ok(msg) = Message::from_vec(self.response()) else {
            return false;
        };
        let Some(query) = msg.queries.first() else {
            return false;
        };
        matches!(policy::check_name(list, &query.name), Verdict::None)
            && policy::inspect_answers(list, &msg.answers).is_none()
    }

    /// Bytes this entry costs its shard: the allocation, its slot in the
    /// table (at the table's 7/8 load) and in a queue.
    pub(super) fn charge(&self) -> usize {
        self.data.len() + SLOT_COST
    }
}

/// Fixed cost of an entry besides its allocation: the table slot (hash,
/// entry, control byte, at 7/8 load), the queue slot, and the allocator's
/// rounding of the allocation (about 16 bytes).
pub(super) const SLOT_COST: usize =
    (size_of::<(u64, Entry)>() + 1) * 8 / 7 + size_of::<(u64, u32)>() + 16;

/// What a ghost (a recently evicted key's hash) costs: its queue slot and
/// its slot in the set.
pub(super) const GHOST_COST: usize = size_of::<u64>() + (size_of::<u64>() + 1) * 8 / 7;
