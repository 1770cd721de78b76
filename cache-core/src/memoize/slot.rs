//! [`LoadSlot`]: a loader's time, handed to the call that reports it.

use std::sync::atomic::{AtomicU64, Ordering::AcqRel};
use std::time::Duration;

/// A loader's time handed from the loader to the call that reports it, once: `PENDING` until
/// either the loader offers its time or the call takes the slot (then `TAKEN`).
pub(super) struct LoadSlot(AtomicU64);

const PENDING: u64 = u64::MAX;
const TAKEN: u64 = u64::MAX - 1;

impl Default for LoadSlot {
    fn default() -> Self {
        LoadSlot(AtomicU64::new(PENDING))
    }
}

impl LoadSlot {
    /// Leaves `elapsed` for the call; false if the call has already returned.
    pub(super) fn offer(&self, elapsed: Duration) -> bool {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX).min(TAKEN - 1);
        self.0.compare_exchange(PENDING, nanos, AcqRel, std::sync::atomic::Ordering::Acquire).is_ok()
    }

    /// The loader's time if it finished during the call; the loader reports it itself later.
    pub(super) fn take(&self) -> Option<Duration> {
        match self.0.swap(TAKEN, AcqRel) {
            PENDING | TAKEN => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }
}
