//! The attribute's own arguments: `cache = .., ttl = .., policy = .., name = "..", instance = ..`.

use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, LitStr, Token};

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
}

const EXPECTED: &str = "expected `cache = ...`, `ttl = ...`, `policy = ...`, `name = \"...\"` or `instance = ...`";

impl Parse for MemoizeArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut cache = None;
        let mut ttl = None;
        let mut name = None;
        let mut instance = None;
        let mut policy = None;
        let pairs = Punctuated::<syn::MetaNameValue, Token![,]>::parse_terminated(input)?;
        for pair in pairs {
            let key = pair.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
            let given_twice = match key.as_str() {
                "cache" => cache.replace(pair.value).is_some(),
                "ttl" => ttl.replace(pair.value).is_some(),
                "instance" => instance.replace(pair.value).is_some(),
                "policy" => policy.replace(pair.value).is_some(),
                "name" => name.replace(string_literal(pair.value)?).is_some(),
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
        Ok(MemoizeArgs { cache, ttl, policy, name, instance })
    }
}

fn string_literal(value: Expr) -> syn::Result<LitStr> {
    match value {
        Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => Ok(s),
        other => Err(syn::Error::new_spanned(other, "`name` must be a string literal")),
    }
}
