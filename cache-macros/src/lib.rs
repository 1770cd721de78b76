//! The `#[memoize]` attribute of cachette. Use it through `cachette::memoize`; see its docs there.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, FnArg, GenericArgument, ItemFn, LitStr, Pat, PathArguments, ReturnType, Token, Type};

/// Memoizes an async function in a cachette cache: results are cached per argument set.
///
/// `#[memoize(cache = <expr>, ttl = <expr>, name = "<name>")]` — `cache` is required (anything that
/// dereferences to a `Cache`: a `static LazyLock<cachette::Cache>`, `state.cache`, `self.cache`;
/// it may use the function's arguments); `ttl` defaults to `Ttl::Default`; `name` defaults to the
/// function's module path and name.
///
/// The function must be `async`, and its arguments (except `self`) plain `name: Type` patterns
/// whose types are `Serialize`; they form the key. `self` is not part of the key. A function
/// returning `Result<T, E>` becomes one returning `Result<T, cachette::CacheError>` (your `E` is the
/// source of `CacheError::Loader`); one returning `T` becomes `Result<T, CacheError>`.
/// A companion `<name>_memoized(cache) -> Memoized` is generated for invalidation
/// (`.delete(&(args,))`, `.delete_all()`).
#[proc_macro_attribute]
pub fn memoize(attr: TokenStream, item: TokenStream) -> TokenStream {
    let args = syn::parse_macro_input!(attr as MemoizeArgs);
    let function = syn::parse_macro_input!(item as ItemFn);
    expand(args, function).unwrap_or_else(syn::Error::into_compile_error).into()
}

struct MemoizeArgs {
    cache: Expr,
    ttl: Option<Expr>,
    name: Option<LitStr>,
}

impl Parse for MemoizeArgs {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut cache = None;
        let mut ttl = None;
        let mut name = None;
        let pairs = Punctuated::<syn::MetaNameValue, Token![,]>::parse_terminated(input)?;
        for pair in pairs {
            let key = pair.path.get_ident().map(|i| i.to_string()).unwrap_or_default();
            match key.as_str() {
                "cache" => cache = Some(pair.value),
                "ttl" => ttl = Some(pair.value),
                "name" => match pair.value {
                    Expr::Lit(syn::ExprLit { lit: syn::Lit::Str(s), .. }) => name = Some(s),
                    other => return Err(syn::Error::new_spanned(other, "`name` must be a string literal")),
                },
                _ => {
                    return Err(syn::Error::new_spanned(
                        pair.path,
                        "unknown #[memoize] argument; expected `cache = ...`, `ttl = ...` or `name = \"...\"`",
                    ));
                }
            }
        }
        let cache = cache.ok_or_else(|| {
            syn::Error::new(
                Span::call_site(),
                "#[memoize] needs `cache = <expr>`: the cache to memoize in, e.g. #[memoize(cache = CACHE)]",
            )
        })?;
        Ok(MemoizeArgs { cache, ttl, name })
    }
}

/// `Result<T, E>` -> `Some(T)`.
fn result_ok_type(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else { return None };
    args.args.iter().find_map(|a| match a {
        GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}

fn expand(args: MemoizeArgs, function: ItemFn) -> syn::Result<TokenStream2> {
    let ItemFn { attrs, vis, sig, block } = function;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new_spanned(sig.fn_token, "#[memoize] works on async functions"));
    }
    let source_hash = {
        let text = quote!(#sig #block).to_string();
        blake3::hash(text.as_bytes()).to_hex()[..16].to_string()
    };
    let mut arg_names = Vec::new();
    let mut arg_types = Vec::new();
    for input in &sig.inputs {
        if let FnArg::Typed(pat_type) = input {
            match &*pat_type.pat {
                Pat::Ident(ident) => {
                    arg_names.push(ident.ident.clone());
                    arg_types.push((*pat_type.ty).clone());
                }
                other => {
                    return Err(syn::Error::new_spanned(
                        other,
                        "#[memoize] needs plain `name: Type` arguments (they form the cache key); destructure inside the body",
                    ));
                }
            }
        }
    }
    let fn_name = &sig.ident;
    let name = match &args.name {
        Some(lit) => quote!(#lit),
        None => {
            let ident = fn_name.to_string();
            quote!(::core::concat!(::core::module_path!(), "::", #ident))
        }
    };
    let ttl = args.ttl.map(|t| quote!(#t)).unwrap_or_else(|| quote!(::cachette::Ttl::Default));
    let cache_expr = &args.cache;
    let support = quote!(::cachette::__macro_support);

    let original_output = match &sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    let (ok_type, loader_body) = match &sig.output {
        ReturnType::Type(_, ty) if result_ok_type(ty).is_some() => {
            let ok = result_ok_type(ty).expect("checked");
            (quote!(#ok), quote!({ let __out: #original_output = async move #block.await; __out }))
        }
        _ => (
            original_output.clone(),
            quote!({
                let __out: #original_output = async move #block.await;
                ::core::result::Result::<#original_output, ::core::convert::Infallible>::Ok(__out)
            }),
        ),
    };

    let mut new_sig = sig.clone();
    new_sig.output = syn::parse_quote!(-> ::core::result::Result<#ok_type, ::cachette::CacheError>);
    let companion = format_ident!("{}_memoized", fn_name);
    let companion_doc = format!("The `Memoized` handle of `{fn_name}`, for invalidating its results.");
    let (impl_generics, _, where_clause) = sig.generics.split_for_impl();
    let _ = &arg_types;

    Ok(quote! {
        #(#attrs)*
        #vis #new_sig {
            const __CACHETTE_SOURCE_HASH: &str = #source_hash;
            // A clone (one Arc), so that the cache expression may borrow an argument that the
            // loader then takes by value.
            let __cache: #support::Cache = { let __c: &#support::Cache = &(#cache_expr); __c.clone() };
            let __memo = __cache.memoized(#name, #ttl).with_source_hash(__CACHETTE_SOURCE_HASH);
            let __key = __memo.key(&(#(&#arg_names,)*)).await?;
            __cache.get_or_set(&__key, __memo.ttl(), move || async move #loader_body).await
        }

        #[doc = #companion_doc]
        #[allow(dead_code)]
        #vis fn #companion #impl_generics (cache: &#support::Cache) -> #support::Memoized #where_clause {
            cache.memoized(#name, #ttl).with_source_hash(#source_hash)
        }
    })
}
