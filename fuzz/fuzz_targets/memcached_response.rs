//! memcached's binary-protocol response parser (cachette-memcached's `binary::read_response`) on
//! arbitrary bytes from the server: packets are read until one does not parse, without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cachette_memcached::__fuzz::read_responses(data);
});
