//! The `#[memoize]` attribute (being written).
