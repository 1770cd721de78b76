//! [`make_template_fragment_key`]: the key a fragment is stored under, for templates and code alike.

use std::fmt::{self, Write};

use minijinja::Value;

/// The start of every fragment's key, Flask-Caching's `TEMPLATE_FRAGMENT_KEY_TEMPLATE` prefix.
pub const KEY_PREFIX: &str = "_template_fragment_cache_";

/// The cache key of the fragment `name` varied on `vary_on`: the key
/// `{% call cache(timeout, name, *vary_on) %}` reads and writes, so that code can delete a
/// fragment when its data changes (Flask-Caching's function of the same name and meaning).
///
/// The shape is Flask-Caching's, `_template_fragment_cache_<name>` and
/// `_template_fragment_cache_<name>_<vary_on[0]>_<vary_on[1]>...`, with one difference: a `_` or
/// `%` inside the name or a value is written `%5F` / `%25`. Flask-Caching joins the parts with
/// `_` as they are, so the fragment `"sidebar"` of the user `"ann_fr"` and the one of the user
/// `"ann"` in the language `"fr"` share a key, and one user is shown the other's fragment. The
/// escape keeps every part apart; a name and values without `_` or `%` give Flask-Caching's key
/// exactly.
///
/// Each value is written as the template writes it (`{{ value }}`: minijinja's formatting), so a
/// key computed here equals the one a template computes from the same values: pass them as
/// [`Value`]s (`42.into()`, `Value::from("en")`). A value's type is not part of the key: `42`
/// and `"42"` name the same fragment, as they do in Flask-Caching.
///
/// ```
/// use cachette_minijinja::make_template_fragment_key;
/// use minijinja::Value;
///
/// assert_eq!(make_template_fragment_key("sidebar", &[]), "_template_fragment_cache_sidebar");
/// assert_eq!(
///     make_template_fragment_key("sidebar", &[42.into(), Value::from("en")]),
///     "_template_fragment_cache_sidebar_42_en"
/// );
/// // `_` inside a part is escaped, so the parts cannot run into each other:
/// assert_eq!(
///     make_template_fragment_key("user_menu", &["ann_fr".into()]),
///     "_template_fragment_cache_user%5Fmenu_ann%5Ffr"
/// );
/// ```
pub fn make_template_fragment_key(name: &str, vary_on: &[Value]) -> String {
    let mut key = String::with_capacity(KEY_PREFIX.len() + name.len() + 8 * vary_on.len());
    key.push_str(KEY_PREFIX);
    let mut escaped = Escaped(&mut key);
    // Writing into a String cannot fail; minijinja's Display of a value does not either.
    let _ = escaped.write_str(name);
    for value in vary_on {
        escaped.0.push('_');
        let _ = write!(escaped, "{value}");
    }
    key
}

/// Writes into the key with `%` and `_` escaped, the one separator and its escape character.
struct Escaped<'a>(&'a mut String);

impl Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for c in s.chars() {
            match c {
                '%' => self.0.push_str("%25"),
                '_' => self.0.push_str("%5F"),
                c => self.0.push(c),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fragment_without_vary_on_values_has_flask_cachings_key() {
        assert_eq!(make_template_fragment_key("sidebar", &[]), "_template_fragment_cache_sidebar");
    }

    #[test]
    fn vary_on_values_are_joined_with_underscores_as_in_flask_caching() {
        let key = make_template_fragment_key("sidebar", &[7.into(), "en".into(), true.into()]);
        assert_eq!(key, "_template_fragment_cache_sidebar_7_en_True");
    }

    #[test]
    fn underscores_inside_parts_cannot_make_two_fragments_share_a_key() {
        let one_user = make_template_fragment_key("sidebar", &["ann_fr".into()]);
        let user_and_language = make_template_fragment_key("sidebar", &["ann".into(), "fr".into()]);
        let longer_name = make_template_fragment_key("sidebar_ann", &["fr".into()]);
        assert_ne!(one_user, user_and_language);
        assert_ne!(user_and_language, longer_name);
        assert_ne!(one_user, longer_name);
    }

    #[test]
    fn a_percent_sign_is_escaped_so_an_escape_cannot_be_forged() {
        let forged = make_template_fragment_key("sidebar", &["ann%5Ffr".into()]);
        let real = make_template_fragment_key("sidebar", &["ann_fr".into()]);
        assert_eq!(forged, "_template_fragment_cache_sidebar_ann%255Ffr");
        assert_ne!(forged, real);
    }

    #[test]
    fn values_are_written_as_the_template_writes_them() {
        let key = make_template_fragment_key("f", &[1.5.into(), 1.0.into(), Value::from(()), Value::from(vec![1, 2])]);
        assert_eq!(key, "_template_fragment_cache_f_1.5_1.0_None_[1, 2]");
    }

    #[test]
    fn a_number_and_its_text_name_the_same_fragment() {
        assert_eq!(make_template_fragment_key("f", &[42.into()]), make_template_fragment_key("f", &["42".into()]));
    }
}
