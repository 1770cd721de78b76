//! Inputs the fuzz targets (`fuzz/`) and the property tests found, kept so that `cargo test`
//! checks them on every run.

use bytes::Bytes;
use cachette_http::__fuzz::serve_stored;

/// The entry's format byte (0x48), the codec's format byte, status 0, `last_modified` 2^63
/// seconds (a varint: 253 then 8 bytes), no fresh or stale deadline, no vary, rendered at 0 in
/// 0 ms, no headers, no body. Status 0 is served as 200, so a hit computes the Last-Modified
/// validator, and `UNIX_EPOCH + 2^63 s` overflowed `SystemTime`: every hit on this entry
/// panicked (found by `decoding_properties.rs`, in the entry's first layout).
const LAST_MODIFIED_PAST_SYSTEM_TIME: [u8; 19] = [0x48, 1, 0, 253, 0, 0, 0, 0, 0, 0, 0, 128, 0, 0, 0, 0, 0, 0, 0];

#[test]
fn a_stored_entry_with_a_last_modified_past_system_time_is_served_without_a_panic() {
    serve_stored(&Bytes::from_static(&LAST_MODIFIED_PAST_SYSTEM_TIME)).unwrap();
}
