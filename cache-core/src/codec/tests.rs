use super::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct User {
    id: u64,
    name: String,
    tags: Vec<String>,
}

fn json() -> Codec {
    Codec { serializer: Serializer::Json, ..Codec::default() }
}

fn zstd(serializer: Serializer) -> Codec {
    Codec { serializer, compression: Compression::Zstd, compression_min_size: 64 }
}

#[test]
fn integers_are_decimal_text() {
    assert_eq!(&encode("k", &5i32).unwrap()[..], b"5");
    assert_eq!(&encode("k", &-17i64).unwrap()[..], b"-17");
    assert_eq!(&encode("k", &u64::MAX).unwrap()[..], u64::MAX.to_string().as_bytes());
    assert_eq!(&encode("k", &i128::MIN).unwrap()[..], i128::MIN.to_string().as_bytes());
    assert_eq!(decode::<i64>("k", b"-17").unwrap(), -17);
    assert_eq!(decode::<u64>("k", u64::MAX.to_string().as_bytes()).unwrap(), u64::MAX);
    assert_eq!(decode::<i128>("k", i128::MIN.to_string().as_bytes()).unwrap(), i128::MIN);
}

#[test]
fn integer_out_of_range_of_target_is_an_error() {
    assert!(decode::<u8>("k", b"300").is_err());
    assert!(decode::<u32>("k", b"-1").is_err());
}

#[test]
fn structs_roundtrip_with_format_byte() {
    let u = User { id: 7, name: "Zoë".into(), tags: vec!["a".into(), "b c".into()] };
    let bytes = encode("k", &u).unwrap();
    assert_eq!(bytes[0], FORMAT_POSTCARD);
    assert_eq!(decode::<User>("k", &bytes).unwrap(), u);
}

#[test]
fn non_integers_that_wrap_integers_are_not_text() {
    // Option<i64>, newtypes and floats keep the tagged form, so they decode back as themselves.
    let some = encode("k", &Some(5i64)).unwrap();
    assert_eq!(some[0], FORMAT_POSTCARD);
    assert_eq!(decode::<Option<i64>>("k", &some).unwrap(), Some(5));
    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct UserId(i64);
    let id = encode("k", &UserId(3)).unwrap();
    assert_eq!(decode::<UserId>("k", &id).unwrap(), UserId(3));
    let f = encode("k", &1.5f64).unwrap();
    assert_eq!(decode::<f64>("k", &f).unwrap(), 1.5);
}

#[test]
fn wrong_types_are_errors() {
    let s = encode("k", "hello").unwrap();
    assert!(matches!(decode::<i64>("k", &s), Err(CacheError::Codec { .. })));
    assert!(matches!(decode::<String>("k", b"12"), Err(CacheError::Codec { .. })));
    let u = encode("k", &User { id: 1, name: "x".into(), tags: vec![] }).unwrap();
    assert!(decode::<u8>("k", &u).is_err(), "trailing bytes must be reported");
    assert!(decode::<User>("k", b"").is_err());
    assert!(decode::<User>("k", b"\x7fjunk").is_err());
    assert!(decode::<i64>("k", b"12abc").is_err());
}

#[test]
fn huge_claimed_length_is_refused_without_allocating() {
    // A Vec<u8> whose length prefix claims u64::MAX bytes.
    let mut bytes = vec![FORMAT_BINCODE2, 253];
    bytes.extend_from_slice(&u64::MAX.to_le_bytes());
    assert!(matches!(decode::<Vec<u8>>("k", &bytes), Err(CacheError::Codec { .. })));
    let mut bytes = vec![FORMAT_BINCODE2, 252];
    bytes.extend_from_slice(&(1u32 << 30).to_le_bytes());
    assert!(decode::<String>("k", &bytes).is_err());
    // The same in postcard: a varint claiming u64::MAX, then 2^30.
    let mut bytes = vec![FORMAT_POSTCARD];
    bytes.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert!(matches!(decode::<Vec<u8>>("k", &bytes), Err(CacheError::Codec { .. })));
    assert!(decode::<String>("k", &[FORMAT_POSTCARD, 0x80, 0x80, 0x80, 0x80, 0x04]).is_err());
}

#[test]
fn counters() {
    assert_eq!(parse_counter("k", b"41").unwrap(), 41);
    assert!(parse_counter("k", b"forty").is_err());
    assert!(checked_counter_add("k", i64::MAX, 1).is_err());
    assert_eq!(&encode_counter(-3)[..], b"-3");
}

#[test]
fn bincode_entries_written_before_postcard_still_decode() {
    let u = User { id: 7, name: "Zoë".into(), tags: vec!["a".into()] };
    assert_eq!(decode::<User>("k", &legacy::encode(&u)).unwrap(), u);
    assert_eq!(decode::<Option<i64>>("k", &legacy::encode(&Some(-5i64))).unwrap(), Some(-5));
    let stored = legacy::encode(&("a", "b"));
    assert_eq!(decode_borrowed::<(&str, &str)>("k", &stored).unwrap(), ("a", "b"));
}

#[test]
fn json_is_plain_text_and_reads_back_as_the_type() {
    let u = User { id: 7, name: "Zoë".into(), tags: vec!["a".into()] };
    let stored = json().encode("k", &u).unwrap();
    assert_eq!(&stored[..], r#"{"id":7,"name":"Zoë","tags":["a"]}"#.as_bytes());
    assert_eq!(decode::<User>("k", &stored).unwrap(), u);
    assert_eq!(&json().encode("k", "hi").unwrap()[..], br#""hi""#);
    assert_eq!(decode::<String>("k", br#""hi""#).unwrap(), "hi");
    assert!(decode::<bool>("k", b"true").unwrap());
    assert_eq!(decode::<Option<String>>("k", b"null").unwrap(), None);
    assert_eq!(decode::<Vec<u8>>("k", b" [1, 2]\n").unwrap(), [1, 2]);
}

#[test]
fn json_integers_stay_decimal_text_and_numbers_that_are_not_integers_read_as_json() {
    assert_eq!(&json().encode("k", &42u8).unwrap()[..], b"42");
    let some = json().encode("k", &Some(5i64)).unwrap();
    assert_eq!(&some[..], b"5");
    assert_eq!(decode::<Option<i64>>("k", &some).unwrap(), Some(5));
    let float = json().encode("k", &-1.5f64).unwrap();
    assert_eq!(&float[..], b"-1.5");
    assert_eq!(decode::<f64>("k", &float).unwrap(), -1.5);
    let error = decode::<u8>("k", b"300").unwrap_err().to_string();
    assert!(error.contains("300"), "the integer's error, not JSON's: {error}");
}

#[test]
fn json_with_trailing_text_or_an_unmappable_value_is_a_codec_error() {
    assert!(matches!(decode::<Vec<u8>>("k", b"[1] x"), Err(CacheError::Codec { .. })));
    let map = std::collections::BTreeMap::from([((1, 2), 3)]);
    let error = json().encode("k", &map).unwrap_err().to_string();
    assert!(error.contains("CACHE_SERIALIZER"), "{error}");
}

#[test]
fn values_from_the_minimum_size_on_are_compressed_and_smaller_ones_are_not() {
    let small = vec!["x".to_string(); 4];
    assert_eq!(zstd(Serializer::Postcard).encode("k", &small).unwrap()[0], FORMAT_POSTCARD);
    assert_eq!(zstd(Serializer::Json).encode("k", &small).unwrap()[0], b'[');
    let large = vec!["the same words again".to_string(); 100];
    for (serializer, format) in [(Serializer::Postcard, FORMAT_POSTCARD_ZSTD), (Serializer::Json, FORMAT_JSON_ZSTD)] {
        let stored = zstd(serializer).encode("k", &large).unwrap();
        assert_eq!(stored[0], format);
        assert!(stored.len() < 100, "{serializer}: {} bytes", stored.len());
        assert_eq!(decode::<Vec<String>>("k", &stored).unwrap(), large);
        let error = decode_borrowed::<Vec<&str>>("k", &stored).unwrap_err().to_string();
        assert!(error.contains("codec::decode"), "{error}");
    }
}

#[test]
fn incompressible_values_are_stored_uncompressed() {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let noise: Vec<u8> = (0..4096)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect();
    let stored = zstd(Serializer::Postcard).encode("k", &noise).unwrap();
    assert_eq!(stored[0], FORMAT_POSTCARD);
}

#[test]
fn a_frame_declaring_more_than_the_limit_is_refused_before_inflating() {
    let bomb = zstd::bulk::compress(&vec![0u8; MAX_DECODE_BYTES + 1], 1).unwrap();
    assert!(bomb.len() < 64 * 1024, "{} bytes", bomb.len());
    let stored = [&[FORMAT_JSON_ZSTD][..], &bomb].concat();
    let error = decode::<Vec<u8>>("k", &stored).unwrap_err();
    assert!(
        matches!(&error, CacheError::Codec { message, .. } if message.contains("over the decoding limit")),
        "{error}"
    );
}

#[test]
fn a_frame_that_inflates_past_the_limit_without_declaring_it_stops_at_the_limit() {
    // A streamed frame has no content size: the bound must hold while inflating.
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..=MAX_DECODE_BYTES >> 20 {
        std::io::Write::write_all(&mut encoder, &zeros).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    assert_eq!(zstd::zstd_safe::get_frame_content_size(&bomb).ok().flatten(), None);
    let stored = [&[FORMAT_POSTCARD_ZSTD][..], &bomb].concat();
    let error = decode::<Vec<u8>>("k", &stored).unwrap_err();
    assert!(
        matches!(&error, CacheError::Codec { message, .. } if message.contains("over the decoding limit")),
        "{error}"
    );
}

#[test]
fn damaged_compressed_values_are_codec_errors() {
    let stored = zstd(Serializer::Postcard).encode("k", &vec!["abc".to_string(); 100]).unwrap();
    for cut in [1, 5, stored.len() / 2, stored.len() - 1] {
        assert!(matches!(decode::<Vec<String>>("k", &stored[..cut]), Err(CacheError::Codec { .. })), "cut at {cut}");
    }
    assert!(decode::<Vec<String>>("k", &[FORMAT_POSTCARD_ZSTD, 1, 2, 3]).is_err());
}

#[test]
fn the_serializer_and_compression_are_read_by_name_and_bincode_is_refused_with_the_reason() {
    assert_eq!("JSON".parse::<Serializer>(), Ok(Serializer::Json));
    assert_eq!("".parse::<Serializer>(), Ok(Serializer::Postcard));
    let error = "bincode".parse::<Serializer>().unwrap_err();
    assert!(error.contains("RUSTSEC-2025-0141") && error.contains("postcard"), "{error}");
    assert!("jsno".parse::<Serializer>().unwrap_err().contains("Did you mean json?"));
    assert_eq!("zstd".parse::<Compression>(), Ok(Compression::Zstd));
    assert!("lz4".parse::<Compression>().unwrap_err().contains("none, zstd"));
}

/// `encode_plain_into`'s bytes, and `encode_plain`'s.
fn both<T: Serialize + ?Sized>(codec: &Codec, value: &T, buf: &mut [u8]) -> (Option<Vec<u8>>, Vec<u8>) {
    (codec.encode_plain_into(value, buf).map(<[u8]>::to_vec), codec.encode_plain("k", value).unwrap())
}

#[test]
fn an_encoding_on_the_stack_is_the_same_as_in_a_vec_or_is_not_made() {
    let codec = Codec::default();
    let mut buf = [0u8; 64];
    let user = User { id: 7, name: "Ada".into(), tags: vec!["admin".into()] };
    let (on_stack, in_vec) = both(&codec, &user, &mut buf);
    assert_eq!(on_stack, Some(in_vec));
    let (on_stack, in_vec) = both(&codec, &(7u64, "x"), &mut buf);
    assert_eq!(on_stack, Some(in_vec));
    for (on_stack, in_vec) in [7u64, u64::MAX].map(|n| both(&codec, &n, &mut buf)).into_iter().chain([
        both(&codec, &-17i64, &mut buf),
        both(&codec, &i64::MIN, &mut buf),
        both(&codec, &i128::MIN, &mut buf),
        both(&codec, &u128::MAX, &mut buf),
    ]) {
        assert_eq!(on_stack, Some(in_vec), "integers are decimal text");
    }
    assert_eq!(codec.encode_plain_into(&"y".repeat(64), &mut buf), None, "too long for the buffer");
    assert_eq!(codec.encode_plain_into(&u128::MAX, &mut [0u8; 8]), None, "an integer too long for the buffer");
    assert_eq!(json().encode_plain_into(&user, &mut buf), None, "JSON is encoded by encode_plain");
    let (on_stack, in_vec) = both(&json(), &7u64, &mut buf);
    assert_eq!(on_stack, Some(in_vec), "integers are decimal text under JSON too");
}
