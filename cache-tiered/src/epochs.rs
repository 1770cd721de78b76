//! The guard that keeps a value read before an invalidation out of the tier.
//!
//! The race it closes: process B misses, reads the old value from the backend, process A writes
//! and publishes, B receives the invalidation (nothing to evict yet), then B inserts the old
//! value — stale until its time-to-live. Every invalidation bumps a counter of the key's slot
//! *before* evicting; a fill takes the counter before reading the backend and inserts only if it
//! is unchanged, then looks again after inserting and evicts if it moved meanwhile. Whichever of
//! the two ran last, the old value does not stay.
//!
//! Slots are a fixed array (keys hash into them), not a map per key: no memory grows with the
//! keys, and a collision only costs a skipped fill.

use std::hash::BuildHasher;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::SeqCst};

const SLOTS: usize = 4096;

/// A key's slot and the slot's counter, as a fill saw it before reading or writing the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seen {
    pub(crate) slot: usize,
    pub(crate) epoch: u64,
}

/// The counters of the slots, and whether the tier is bypassed (no invalidation channel).
pub(crate) struct Epochs {
    slots: Box<[AtomicU64]>,
    hasher: std::collections::hash_map::RandomState,
    bypassed: AtomicBool,
}

impl Epochs {
    /// `bypassed`: start bypassed (until the bus has subscribed).
    pub(crate) fn new(bypassed: bool) -> Epochs {
        Epochs {
            slots: (0..SLOTS).map(|_| AtomicU64::new(0)).collect(),
            hasher: Default::default(),
            bypassed: AtomicBool::new(bypassed),
        }
    }

    fn slot_of(&self, key: &str) -> usize {
        (self.hasher.hash_one(key) % SLOTS as u64) as usize
    }

    /// The key's slot and counter before a fill; `None` while bypassed (nothing may be inserted).
    pub(crate) fn before_fill(&self, key: &str) -> Option<Seen> {
        if self.bypassed.load(SeqCst) {
            return None;
        }
        let slot = self.slot_of(key);
        Some(Seen { slot, epoch: self.slots[slot].load(SeqCst) })
    }

    /// Whether a fill that saw `seen` may still insert (and, after inserting, keep).
    pub(crate) fn unchanged(&self, seen: Seen) -> bool {
        self.unchanged_at(seen.slot, seen.epoch)
    }

    /// Whether the counter of `slot` is still `epoch` and the tier serves: a read's check of
    /// the entry it found (which carries its slot, so the key is not hashed again on a hit).
    pub(crate) fn unchanged_at(&self, slot: usize, epoch: u64) -> bool {
        !self.bypassed.load(SeqCst) && self.slots[slot].load(SeqCst) == epoch
    }

    /// A write's fill: claims the slot (so a concurrent write of the same key in this process
    /// sees that it lost) and returns what to check after inserting, or `None` when something
    /// invalidated the key since `seen` (the slot is bumped again, so that a fill that claimed it
    /// meanwhile evicts its value too).
    pub(crate) fn claim(&self, seen: Seen) -> Option<Seen> {
        let slot = &self.slots[seen.slot];
        match slot.compare_exchange(seen.epoch, seen.epoch + 1, SeqCst, SeqCst) {
            Ok(_) if !self.bypassed.load(SeqCst) => Some(Seen { slot: seen.slot, epoch: seen.epoch + 1 }),
            _ => {
                slot.fetch_add(1, SeqCst);
                None
            }
        }
    }

    /// An invalidation of `key`: call before evicting it.
    pub(crate) fn bump(&self, key: &str) {
        self.slots[self.slot_of(key)].fetch_add(1, SeqCst);
    }

    /// An invalidation of every key: call before flushing the tier.
    pub(crate) fn bump_all(&self) {
        for slot in &self.slots {
            slot.fetch_add(1, SeqCst);
        }
    }

    /// Bypasses the tier (`true`) or serves from it again (`false`); every slot is bumped either
    /// way, so that no fill begun on the other side of the change inserts.
    pub(crate) fn set_bypassed(&self, bypassed: bool) {
        if bypassed {
            self.bypassed.store(true, SeqCst);
            self.bump_all();
        } else {
            self.bump_all();
            self.bypassed.store(false, SeqCst);
        }
    }

    /// Whether the tier is bypassed.
    pub(crate) fn bypassed(&self) -> bool {
        self.bypassed.load(SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fill_that_saw_an_older_counter_does_not_insert() {
        let epochs = Epochs::new(false);
        let seen = epochs.before_fill("k").unwrap();
        epochs.bump("k");
        assert!(!epochs.unchanged(seen));
        assert!(epochs.claim(seen).is_none());
    }

    #[test]
    fn of_two_concurrent_writes_only_the_first_claim_keeps_its_value() {
        let epochs = Epochs::new(false);
        let (a, b) = (epochs.before_fill("k").unwrap(), epochs.before_fill("k").unwrap());
        let kept = epochs.claim(a).unwrap();
        assert!(epochs.claim(b).is_none());
        assert!(!epochs.unchanged(kept), "the loser's bump makes the winner evict as well");
    }

    #[test]
    fn nothing_is_filled_while_bypassed_nor_by_a_fill_begun_before_the_bus_came_back() {
        let epochs = Epochs::new(true);
        assert!(epochs.before_fill("k").is_none());
        epochs.set_bypassed(false);
        let seen = epochs.before_fill("k").unwrap();
        epochs.set_bypassed(true);
        epochs.set_bypassed(false);
        assert!(!epochs.unchanged(seen));
    }
}
