//! What the store holds under a key: the value and its own deadline.

use std::time::{Duration, Instant};

use cachette_core::Bytes;

/// A stored value and its deadline (`None`: never expires).
#[derive(Clone)]
pub(crate) struct Slot {
    pub(crate) value: Bytes,
    pub(crate) expires_at: Option<Instant>,
}

/// Tells moka each entry's own lifetime, from the deadline stored beside the value. An update
/// keeps whatever deadline the new slot carries, so `inc` (which copies the old deadline) keeps a
/// key's expiry and `touch` (which writes a new one) changes it.
pub(crate) struct SlotExpiry;

impl moka::Expiry<String, Slot> for SlotExpiry {
    fn expire_after_create(&self, _key: &String, slot: &Slot, now: Instant) -> Option<Duration> {
        slot.expires_at.map(|deadline| deadline.saturating_duration_since(now))
    }

    fn expire_after_update(
        &self,
        _key: &String,
        slot: &Slot,
        now: Instant,
        _current: Option<Duration>,
    ) -> Option<Duration> {
        slot.expires_at.map(|deadline| deadline.saturating_duration_since(now))
    }
}
