//! The FileSystemCache entry decoder (`cachette_fs::decode_entry`) on arbitrary file contents:
//! no panic, and an entry only when its length field matches the file.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = cachette_fs::decode_entry(data) {
        assert_eq!(header.value_len, data.len() - cachette_fs::HEADER_LEN);
        let now = data.get(..8).map_or(0, |b| u64::from_le_bytes(b.try_into().expect("8 bytes")));
        let _ = header.is_live(now);
    }
});
