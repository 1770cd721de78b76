//! Template fragment caching on real backends: SimpleCache, Redis and memcached (the servers are
//! started by cachette-conformance's harness).

mod caching;
mod install;
mod runtimes;
mod support;
