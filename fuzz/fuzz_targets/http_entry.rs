//! The HTTP entry decoder (`Entry::decode` of cachette-http) on arbitrary stored bytes, each
//! decoded entry used as a hit uses it (vary match, staleness, headers, validators).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = cachette_http::__fuzz::serve_stored(&bytes::Bytes::copy_from_slice(data));
});
