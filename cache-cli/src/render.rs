//! How a stored value is printed.

use cachette::codec;

/// Integers and text as they are, typed strings decoded, the rest as hex.
pub(crate) fn render(bytes: &[u8]) -> String {
    if let Ok(n) = codec::decode::<i128>("", bytes) {
        return n.to_string();
    }
    if let Ok(s) = codec::decode::<String>("", bytes) {
        return s;
    }
    let format = match bytes.first() {
        Some(&codec::FORMAT_POSTCARD) => Some("postcard"),
        Some(&codec::FORMAT_POSTCARD_ZSTD) => Some("postcard, zstd"),
        Some(&codec::FORMAT_JSON_ZSTD) => Some("JSON, zstd"),
        Some(&codec::FORMAT_BINCODE2) => Some("bincode, an older entry"),
        _ => None,
    };
    if let Some(format) = format {
        return format!("<typed value ({format}), {} bytes> {}", bytes.len(), hex(bytes));
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => text.to_owned(),
        _ => format!("<{} bytes> {}", bytes.len(), hex(bytes)),
    }
}

fn hex(bytes: &[u8]) -> String {
    const SHOWN: usize = 64;
    let mut out: String = bytes.iter().take(SHOWN).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > SHOWN {
        out.push_str("...");
    }
    out
}
