//! The `#[memoize]` attribute: free functions, methods, names and keys, and what does not compile.

mod compile_fail;
mod functions;
mod methods;
mod names;
mod support;
