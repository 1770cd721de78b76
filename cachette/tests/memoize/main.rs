//! The `#[memoize]` attribute: free functions, methods, names and keys, the decorator options, and
//! what does not compile; the same options on a `Memoized` handle.

mod functions;
mod handle_options;
mod methods;
mod names;
mod options;
mod support;
mod versions;
