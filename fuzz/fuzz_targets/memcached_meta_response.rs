//! memcached's meta-protocol answer parser (cachette-memcached's `meta::read_answer`) on arbitrary
//! bytes from the server, as the answers to a batch of requests: answers are read until one does
//! not parse or the batch is answered, without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cachette_memcached::__fuzz::read_meta_answers(data);
});
