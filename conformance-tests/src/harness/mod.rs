//! Real servers for the tests: started as local processes on free loopback ports, stopped when the
//! test process ends.
//!
//! A missing server binary is a test failure whose message names the package to install — never a
//! silent skip. [`process`] holds the pieces every server type uses.

pub mod memcached;
pub mod process;
pub mod redis;

pub use process::{ServerProcess, free_port, require_binary, wait_for_tcp};
