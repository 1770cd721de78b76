//! The arguments of `cache(timeout, name, *vary_on)`: what a template asks of its fragment cache.

use std::time::Duration;

use cachette_core::Ttl;
use minijinja::value::ValueKind;
use minijinja::{Error, ErrorKind, Value};

/// How the call is written, for the messages of its mistakes.
const USAGE: &str = "{% call cache(300, \"sidebar\", user.id) %}...{% endcall %}";

/// One call of the template function, checked.
#[derive(Debug)]
pub(crate) struct FragmentCall {
    /// The first argument: a timeout, or `'del'`.
    pub(crate) action: Action,
    /// The fragment's name, the second argument.
    pub(crate) name: String,
    /// The values after the name.
    pub(crate) vary_on: Vec<Value>,
    /// The body of the `{% call %}` block, absent when the function is called as `{{ cache(...) }}`.
    pub(crate) body: Option<Value>,
}

/// What the first argument asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Serve the fragment from the cache, rendering and storing it (for this long) on a miss.
    Cache(Ttl),
    /// `'del'`: delete the stored fragment, then render the body uncached (Flask-Caching's form).
    Delete,
}

impl FragmentCall {
    /// Checks the positional arguments and the `caller` of a `{% call %}` block.
    pub(crate) fn parse(args: Vec<Value>, body: Option<Value>) -> Result<FragmentCall, Error> {
        let mut args = args.into_iter();
        let (Some(first), Some(name)) = (args.next(), args.next()) else {
            return Err(invalid(format!(
                "cache() takes a timeout and a fragment name, then the values it varies on: {USAGE}"
            )));
        };
        let Some(name) = name.as_str().map(str::to_owned) else {
            return Err(invalid(format!(
                "the fragment name (the second argument of cache()) is {}, not a string: {USAGE}",
                describe(&name)
            )));
        };
        let action = Action::parse(&first, &name)?;
        let vary_on: Vec<Value> = args.collect();
        if let Some(position) = vary_on.iter().position(Value::is_undefined) {
            // Undefined formats as "", so a misspelt `usr.id` would give every user one shared
            // fragment: a leak of one user's page to the others, not a cache miss.
            return Err(invalid(format!(
                "vary-on value {} of the fragment \"{name}\" (argument {} of cache()) is undefined; \
                 a typo here would serve one fragment to every value: check the variable's name",
                position + 1,
                position + 3
            )));
        }
        if body.is_none() && action != Action::Delete {
            return Err(invalid(format!(
                "cache() for the fragment \"{name}\" has no body to cache: write it as a block, {USAGE} \
                 (only cache('del', ...) may stand alone)"
            )));
        }
        Ok(FragmentCall { action, name, vary_on, body })
    }
}

impl Action {
    /// Flask-Caching's timeouts: seconds (0 is never), `none` for the cache's default, `'del'`.
    fn parse(value: &Value, name: &str) -> Result<Action, Error> {
        if value.as_str() == Some("del") {
            return Ok(Action::Delete);
        }
        let seconds = match value.kind() {
            ValueKind::None => return Ok(Action::Cache(Ttl::Default)),
            ValueKind::Number => f64::try_from(value.clone()).ok(),
            _ => None,
        };
        match seconds {
            Some(0.0) => Ok(Action::Cache(Ttl::Never)),
            Some(s) => match Duration::try_from_secs_f64(s) {
                Ok(d) => Ok(Action::Cache(Ttl::After(d))),
                Err(_) => Err(bad_timeout(value, name)),
            },
            None => Err(bad_timeout(value, name)),
        }
    }
}

fn bad_timeout(value: &Value, name: &str) -> Error {
    invalid(format!(
        "the timeout of the fragment \"{name}\" (the first argument of cache()) is {}: write seconds \
         (300, or 0.5; 0 never expires), none for CACHE_DEFAULT_TIMEOUT, or 'del' to delete the fragment",
        describe(value)
    ))
}

/// A value as a message shows it: its template form, or "undefined".
fn describe(value: &Value) -> String {
    if value.is_undefined() { "undefined".to_owned() } else { format!("{value:?}") }
}

fn invalid(detail: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(first: Value) -> Result<Action, Error> {
        FragmentCall::parse(vec![first, "f".into()], Some(Value::from("body"))).map(|call| call.action)
    }

    #[test]
    fn seconds_are_a_timeout_and_zero_never_expires() {
        assert_eq!(action(300.into()).unwrap(), Action::Cache(Ttl::After(Duration::from_secs(300))));
        assert_eq!(action(0.5.into()).unwrap(), Action::Cache(Ttl::After(Duration::from_millis(500))));
        assert_eq!(action(0.into()).unwrap(), Action::Cache(Ttl::Never));
    }

    #[test]
    fn none_is_the_caches_default_timeout() {
        assert_eq!(action(Value::from(())).unwrap(), Action::Cache(Ttl::Default));
    }

    #[test]
    fn del_deletes() {
        assert_eq!(action("del".into()).unwrap(), Action::Delete);
    }

    #[test]
    fn a_negative_or_textual_timeout_is_an_error_naming_the_valid_forms() {
        for bad in [Value::from(-1), Value::from("300"), Value::from(true), Value::UNDEFINED] {
            let e = action(bad.clone()).unwrap_err().to_string();
            assert!(e.contains("timeout of the fragment \"f\"") && e.contains("'del'"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn a_call_without_a_name_says_how_to_write_it() {
        let e = FragmentCall::parse(vec![300.into()], None).unwrap_err().to_string();
        assert!(e.contains("{% call cache(300, \"sidebar\", user.id) %}"), "{e}");
        let e = FragmentCall::parse(vec![300.into(), 5.into()], None).unwrap_err().to_string();
        assert!(e.contains("not a string"), "{e}");
    }

    #[test]
    fn an_undefined_vary_on_value_is_an_error_not_a_shared_fragment() {
        let e = FragmentCall::parse(vec![300.into(), "f".into(), 1.into(), Value::UNDEFINED], Some("b".into()))
            .unwrap_err()
            .to_string();
        assert!(e.contains("vary-on value 2 of the fragment \"f\"") && e.contains("undefined"), "{e}");
    }

    #[test]
    fn caching_needs_a_body_but_deleting_does_not() {
        let e = FragmentCall::parse(vec![300.into(), "f".into()], None).unwrap_err().to_string();
        assert!(e.contains("no body"), "{e}");
        assert!(FragmentCall::parse(vec!["del".into(), "f".into()], None).is_ok());
    }
}
