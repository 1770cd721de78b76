//! Keeping entries warm, two ways:
//!
//! * [`background`]: stale-while-revalidate, and early refresh (XFetch). A stale hit, or a fresh
//!   one drawn for an early refresh, is answered at once and one background task renders the
//!   entry again (per key, across processes).
//! * [`scheduler`]: the [`Refresher`], which re-renders named routes on a schedule, through the
//!   cached app, so that their entries never go cold.
//!
//! In each module "refresh" means its own kind only.

pub(crate) mod background;
pub(crate) mod scheduler;

pub(crate) use background::Refresh;
pub use scheduler::{Refresher, RefresherHandle};
