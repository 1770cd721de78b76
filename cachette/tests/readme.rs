//! The README's configuration table lists every key `Config` understands.

#[test]
fn readme_lists_every_config_key() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for key in cachette::config::KEYS {
        assert!(readme.contains(&format!("| `{}` |", key.name)), "README.md's configuration table lacks {}", key.name);
    }
}
