//! The render scope: what [`render_with`](crate::render_with) knows about the render it runs on a
//! blocking thread — that waiting there blocks no runtime worker, and which writes of fragments
//! it still has to await once the render is over.

use std::cell::RefCell;

use cachette_core::Result;
use futures::future::BoxFuture;

/// The store of one rendered fragment that did not finish at once (it waits on the network).
pub(crate) struct PendingWrite {
    /// Which [`FragmentCache`](crate::FragmentCache) wrote it (its id).
    pub(crate) owner: u64,
    pub(crate) key: String,
    /// The rendered fragment, served to later uses of the same key in this render.
    pub(crate) value: String,
    pub(crate) write: BoxFuture<'static, Result<()>>,
}

thread_local! {
    static SCOPE: RefCell<Option<Vec<PendingWrite>>> = const { RefCell::new(None) };
}

/// Runs `render` in a scope on this thread; returns its result and the writes it left pending.
pub(crate) fn run<R>(render: impl FnOnce() -> R) -> (R, Vec<PendingWrite>) {
    /// Ends the scope even if the render panics, so the thread (a pooled blocking thread) is not
    /// left believing it is inside one.
    struct Exit(Option<Vec<PendingWrite>>);
    impl Drop for Exit {
        fn drop(&mut self) {
            SCOPE.with(|scope| scope.replace(self.0.take()));
        }
    }

    let outer = SCOPE.with(|scope| scope.replace(Some(Vec::new())));
    let exit = Exit(outer);
    let result = render();
    let pending = SCOPE.with(|scope| scope.borrow_mut().take()).unwrap_or_default();
    drop(exit);
    (result, pending)
}

/// Whether this thread is rendering inside [`run`].
pub(crate) fn active() -> bool {
    SCOPE.with(|scope| scope.borrow().is_some())
}

/// Hands `write` to the scope to await after the render; gives it back when there is no scope.
pub(crate) fn defer(write: PendingWrite) -> std::result::Result<(), PendingWrite> {
    SCOPE.with(|scope| match scope.borrow_mut().as_mut() {
        Some(pending) => {
            pending.push(write);
            Ok(())
        }
        None => Err(write),
    })
}

/// The fragment this render stored under `key` and whose write is still pending, if any.
pub(crate) fn pending_value(owner: u64, key: &str) -> Option<String> {
    SCOPE.with(|scope| {
        let scope = scope.borrow();
        let pending = scope.as_ref()?;
        pending.iter().rev().find(|w| w.owner == owner && w.key == key).map(|w| w.value.clone())
    })
}

/// Takes the pending writes of `key` out of the scope (a delete must come after them).
pub(crate) fn take_pending(owner: u64, key: &str) -> Vec<PendingWrite> {
    SCOPE.with(|scope| {
        let mut scope = scope.borrow_mut();
        let Some(pending) = scope.as_mut() else { return Vec::new() };
        let (taken, kept) = std::mem::take(pending).into_iter().partition(|w| w.owner == owner && w.key == key);
        *pending = kept;
        taken
    })
}
