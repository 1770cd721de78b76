//! The attribute's own arguments: `cache = ..`, `ttl = ..`, `policy = ..`, `name = ".."`,
//! `instance = ..`, and Flask-Caching's decorator options (`cache_none`, `unless`,
//! `forced_update`, `is_stale`, `response_filter`, `make_name`, `args_to_ignore`).

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, Ident, LitBool, LitStr, Token};

/// `#[memoize(...)]`'s arguments, as written.
pub(crate) struct MemoizeArgs {
    /// What dereferences to the `Cache` to memoize in.
    pub(crate) cache: Expr,
    /// The results' lifetime, an expression of type `Ttl`; `Ttl::Default` when absent.
    pub(crate) ttl: Option<Expr>,
    /// A `LoadPolicy` (fresh period, stale windows, loader deadlines) instead of a `ttl`.
    pub(crate) policy: Option<Expr>,
    /// The function's name in keys; its path when absent.
    pub(crate) name: Option<LitStr>,
    /// What identifies `self` in keys (methods only).
    pub(crate) instance: Option<Expr>,
    /// Flask-Caching's options.
    pub(crate) options: Options,
}

/// Flask-Caching's decorator options, as written.
#[derive(Default)]
pub(crate) struct Options {
    /// Whether a `None` result is stored (`false` when absent).
    pub(crate) cache_none: Option<LitBool>,
    /// A `bool` expression: skip the cache for this call.
    pub(crate) unless: Option<Expr>,
    /// A `bool` expression: load and store even on a hit.
    pub(crate) forced_update: Option<Expr>,
    /// A test of a stored value (`Fn(&T) -> bool`): true makes it a miss.
    pub(crate) is_stale: Option<Expr>,
    /// A test of a loaded value (`Fn(&T) -> bool`): false keeps it out of the cache.
    pub(crate) response_filter: Option<Expr>,
    /// The function's name in keys computed from its name (`Fn(&str) -> String`).
    pub(crate) make_name: Option<Expr>,
    /// Arguments left out of the key (and out of `_forget`'s parameters).
    pub(crate) args_to_ignore: Vec<Ident>,
}

const EXPECTED: &str = "expected `cache`, `ttl`, `policy`, `name`, `instance`, `cache_none`, `unless`, \
                        `forced_update`, `is_stale`, `response_filter`, `make_name` or `args_to_ignore`";

impl Parse for MemoizeArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let (mut cache, mut ttl, mut name, mut instance, mut policy) = (None, None, None, None, None);
        let mut options = Options::default();
        let mut ignore_given = false;
        let pairs = Punctuated::<syn::MetaNameValue, Token![,]>::parse_terminated(input)?;
        for pair in pairs {
            let key = pair.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
            let given_twice = match key.as_str() {
                "cache" => cache.replace(pair.value).is_some(),
                "ttl" => ttl.replace(pair.value).is_some(),
                "instance" => instance.replace(pair.value).is_some(),
                "policy" => policy.replace(pair.value).is_some(),
                "name" => name.replace(string_literal(pair.value)?).is_some(),
                "cache_none" => options.cache_none.replace(bool_literal(pair.value)?).is_some(),
                "unless" => options.unless.replace(pair.value).is_some(),
                "forced_update" => options.forced_update.replace(pair.value).is_some(),
                "is_stale" => options.is_stale.replace(pair.value).is_some(),
                "response_filter" => options.response_filter.replace(pair.value).is_some(),
                "make_name" => options.make_name.replace(not_a_string(pair.value)?).is_some(),
                "args_to_ignore" => {
                    options.args_to_ignore = argument_names(pair.value)?;
                    std::mem::replace(&mut ignore_given, true)
                }
                _ => {
                    let message = format!("unknown #[memoize] argument; {EXPECTED}");
                    return Err(syn::Error::new_spanned(pair.path, message));
                }
            };
            if given_twice {
                return Err(syn::Error::new_spanned(pair.path, format!("`{key}` is given twice")));
            }
        }
        let cache = cache.ok_or_else(|| {
            syn::Error::new(
                Span::call_site(),
                "#[memoize] needs `cache = <expr>`: the cache to memoize in, e.g. #[memoize(cache = CACHE)]",
            )
        })?;
        if let (Some(ttl), Some(_)) = (&ttl, &policy) {
            return Err(syn::Error::new_spanned(
                ttl,
                "give either `ttl` or `policy`: a policy has its own fresh period (LoadPolicy::new(ttl))",
            ));
        }
        Ok(MemoizeArgs { cache, ttl, policy, name, instance, options })
    }
}

fn string_literal(value: Expr) -> syn::Result<LitStr> {
    match value {
        Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Ok(s),
        other => Err(syn::Error::new_spanned(other, "`name` must be a string literal")),
    }
}

fn bool_literal(value: Expr) -> syn::Result<LitBool> {
    match value {
        Expr::Lit(syn::ExprLit { lit: syn::Lit::Bool(b), .. }) => Ok(b),
        other => Err(syn::Error::new_spanned(
            other,
            "`cache_none` is `true` (store a `None` result) or `false` (the default: call the function again)",
        )),
    }
}

/// `make_name` computes a name; a fixed one is `name`'s.
fn not_a_string(value: Expr) -> syn::Result<Expr> {
    match value {
        Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Err(syn::Error::new_spanned(
            s,
            "`make_name` is a function of the function's name, called on each call, such as \
             `make_name = |name| format!(\"{name}.{}\", language())`; for a fixed name, write `name = \"...\"`",
        )),
        other => Ok(other),
    }
}

/// `[a, b]` or `["a", "b"]`: the names of arguments, each once.
fn argument_names(value: Expr) -> syn::Result<Vec<Ident>> {
    let wrong = |span: &dyn quote::ToTokens| {
        syn::Error::new_spanned(
            span,
            "`args_to_ignore` is a list of the function's argument names, such as `args_to_ignore = [db, request_id]`",
        )
    };
    let Expr::Array(array) = &value else { return Err(wrong(&value)) };
    let mut names: Vec<Ident> = Vec::new();
    for element in &array.elems {
        let name = match element {
            Expr::Path(path) if path.path.get_ident().is_some() => path.path.get_ident().cloned(),
            Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => s.parse::<Ident>().ok(),
            _ => None,
        };
        let name = name.ok_or_else(|| wrong(element))?;
        if names.contains(&name) {
            return Err(syn::Error::new(element.span(), format!("`{name}` is in `args_to_ignore` twice")));
        }
        names.push(name);
    }
    Ok(names)
}
