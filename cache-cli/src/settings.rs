//! Where cachectl's configuration comes from: a TOML file, then `CACHE_*` environment variables,
//! then `-o KEY=VALUE`, each layer overriding the one before; no error shows a secret.

use cachette::config::{REDACTED, is_secret_key};
use cachette::{CacheError, Config};

use crate::cli::Cli;

/// File, then environment, then -o: each layer overrides the one before.
pub(crate) fn load_config(cli: &Cli) -> Result<Config, CacheError> {
    let mut config = match &cli.config {
        None => Config::default(),
        Some(path) => {
            let shown = path.display().to_string();
            let text = std::fs::read_to_string(path)
                .map_err(|e| CacheError::config("--config", &shown, format!("cannot read the file: {e}")))?;
            toml::from_str::<Config>(&text)
                .map_err(|e| CacheError::config("--config", &shown, toml_error(&text, &e)))?
        }
    };
    for (name, value) in std::env::vars() {
        if name.starts_with("CACHE_") {
            config.set(&name, value)?;
        }
    }
    for option in &cli.options {
        let (key, value) = option.split_once('=').ok_or_else(|| {
            CacheError::config("-o", shown_option(option), "expected KEY=VALUE, e.g. -o CACHE_TYPE=RedisCache")
        })?;
        config.set(key, value)?;
    }
    Ok(config)
}

/// toml's own `Display` quotes the line of the error, which may hold a password
/// (`CACHE_REDIS_PASSWORD = hunter2` without quotes): say where and what, not the line.
fn toml_error(text: &str, error: &toml::de::Error) -> String {
    let message = error.message().trim_end();
    match error.span() {
        None => message.to_owned(),
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}, column {column}: {message}")
        }
    }
}

/// An `-o` argument without `=` as an error shows it: only the key when the key holds a secret
/// (`-o CACHE_REDIS_PASSWORD:hunter2`).
fn shown_option(option: &str) -> String {
    let key = option.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')).next().unwrap_or("");
    if key.len() < option.len() && is_secret_key(key) { format!("{key}{REDACTED}") } else { option.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_option_without_equals_hides_what_follows_a_secret_key() {
        assert_eq!(shown_option("CACHE_REDIS_PASSWORD:hunter2"), "CACHE_REDIS_PASSWORD<redacted>");
        assert_eq!(shown_option("CACHE_OPTIONS.password hunter2"), "CACHE_OPTIONS.password<redacted>");
        assert_eq!(shown_option("CACHE_TYPE:RedisCache"), "CACHE_TYPE:RedisCache");
        assert_eq!(shown_option("CACHE_REDIS_PASSWORD"), "CACHE_REDIS_PASSWORD");
    }

    #[test]
    fn a_toml_error_says_where_without_quoting_the_line() {
        let text = "CACHE_TYPE = \"RedisCache\"\nCACHE_REDIS_PASSWORD = hunter2\n";
        let error = toml::from_str::<Config>(text).unwrap_err();
        assert!(error.to_string().contains("hunter2"), "toml's own message quotes the line: {error}");
        let shown = toml_error(text, &error);
        assert!(shown.starts_with("line 2, column 24: ") && !shown.contains("hunter2"), "{shown}");
    }
}
