//! "Did you mean ...?" for configuration keys, option names and backend names.

/// The candidate nearest to `input` (case-insensitive edit distance), if it is near enough to be a
/// plausible typo.
pub fn nearest<'a, I>(input: &str, candidates: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    let input = input.to_ascii_lowercase();
    let limit = (input.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(&input, &c.to_ascii_lowercase()), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ` Did you mean X?` or the empty string.
pub(crate) fn did_you_mean<'a, I>(input: &str, candidates: I) -> String
where
    I: IntoIterator<Item = &'a str>,
{
    nearest(input, candidates).map(|c| format!(" Did you mean {c}?")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_typos() {
        let keys = ["CACHE_DEFAULT_TIMEOUT", "CACHE_DIR", "CACHE_TYPE"];
        assert_eq!(super::nearest("CACHE_DEFAULT_TIMOUT", keys), Some("CACHE_DEFAULT_TIMEOUT"));
        assert_eq!(super::nearest("cache_typ", keys), Some("CACHE_TYPE"));
        assert_eq!(super::nearest("SOMETHING_ELSE_ENTIRELY", keys), None);
    }
}
