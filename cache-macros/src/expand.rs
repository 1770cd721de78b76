//! What `#[memoize]` expands to: the function, `<fn>_forget` and `<fn>_forget_all`.

use proc_macro2::{TokenStream as TokenStream2, TokenTree};
use quote::{format_ident, quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Attribute, Ident};

use crate::args::MemoizeArgs;
use crate::function::Function;

/// Paths the generated code uses. `__macro_support` re-exports what the user may not have
/// imported; `Ttl` and `CacheError` are public anyway.
fn support() -> TokenStream2 {
    quote!(::cachette::__macro_support)
}

pub(crate) fn expand(args: MemoizeArgs, function: Function) -> syn::Result<TokenStream2> {
    check_instance(&args, &function)?;
    check_ignored(&args, &function)?;
    let expansion = Expansion::new(args, &function);
    let memoized = expansion.memoized();
    let forget = expansion.forget();
    let forget_all = expansion.forget_all();
    Ok(quote! { #memoized #forget #forget_all })
}

/// A method must say what identifies its instance; sharing results between instances silently
/// would serve one user's data to another.
fn check_instance(args: &MemoizeArgs, function: &Function) -> syn::Result<()> {
    match (&function.receiver, &args.instance) {
        (Some(receiver), None) => Err(syn::Error::new_spanned(
            receiver,
            "#[memoize] on a method needs `instance = ...`: what tells one `self` from another in the cache key, \
             such as `instance = self.id` (any `Serialize` expression), or `instance = self` when `Self: Serialize`",
        )),
        (None, Some(instance)) => Err(syn::Error::new_spanned(
            instance,
            format!(
                "`instance` is for methods (functions taking `self`); `{}` has no `self`, so its arguments alone form the key",
                function.item.sig.ident
            ),
        )),
        _ => Ok(()),
    }
}

/// `args_to_ignore` names arguments of the function, other than `self`.
fn check_ignored(args: &MemoizeArgs, function: &Function) -> syn::Result<()> {
    for name in &args.options.args_to_ignore {
        if name == "self" {
            return Err(syn::Error::new_spanned(
                name,
                "`self` cannot be ignored: say what identifies the instance with `instance = ...` \
                 (`instance = \"shared\"` for results shared by every instance)",
            ));
        }
        if !function.arg_names.contains(name) {
            let known: Vec<String> = function.arg_names.iter().map(|a| format!("`{a}`")).collect();
            let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
            return Err(syn::Error::new_spanned(
                name,
                format!(
                    "`args_to_ignore` names `{name}`, which is not an argument of `{}` (its arguments: {known})",
                    function.item.sig.ident
                ),
            ));
        }
    }
    Ok(())
}

/// The identifiers an expression uses (its tokens, at any depth): which ignored arguments a
/// companion still needs as parameters.
fn identifiers(tokens: TokenStream2, found: &mut Vec<Ident>) {
    for token in tokens {
        match token {
            TokenTree::Ident(ident) => found.push(ident),
            TokenTree::Group(group) => identifiers(group.stream(), found),
            _ => {}
        }
    }
}

/// The pieces shared by the three generated functions.
struct Expansion<'f> {
    args: MemoizeArgs,
    function: &'f Function,
    /// A hash of the function's tokens, for `CACHE_SOURCE_CHECK`.
    source_hash: String,
    /// The tuple whose hash is the key: for methods, `Self`'s type name and the instance first.
    key: TokenStream2,
}

impl<'f> Expansion<'f> {
    fn new(args: MemoizeArgs, function: &'f Function) -> Expansion<'f> {
        let (sig, block) = (&function.item.sig, &function.item.block);
        let source_hash = blake3::hash(quote!(#sig #block).to_string().as_bytes()).to_hex()[..16].to_string();
        let ignored = &args.options.args_to_ignore;
        let names: Vec<&Ident> = function.arg_names.iter().filter(|name| !ignored.contains(name)).collect();
        // `Self`'s type name keeps the instantiations of a generic impl apart: their default
        // name is one (`Repo<_>::get`), and an instance id may be the same in two of them.
        let key = match &args.instance {
            Some(instance) => {
                quote!((::core::any::type_name::<Self>(), &(#instance), #(&#names,)*))
            }
            None => quote!((#(&#names,)*)),
        };
        Expansion { args, function, source_hash, key }
    }

    fn fn_name(&self) -> &Ident {
        &self.function.item.sig.ident
    }

    /// An expression building the function's `Memoized` handle inside the generated function
    /// `generated`, on `cache` (an expression that dereferences to a `Cache`) with `ttl`; with
    /// `named`, its `cache_none` and `make_name` (which `_forget_all` cannot evaluate, and needs
    /// not: it forgets every computed name).
    fn handle(&self, generated: &Ident, cache: TokenStream2, ttl: TokenStream2, named: bool) -> TokenStream2 {
        let support = support();
        let source_hash = &self.source_hash;
        let name = match &self.args.name {
            Some(name) => quote!(let __name: &'static str = #name;),
            None => {
                let generated = generated.unraw().to_string();
                let function = self.fn_name().unraw().to_string();
                // Computed once per function: building the handle on each call copies nothing.
                quote! {
                    fn __cachette_anchor() {}
                    static __CACHETTE_NAME: ::std::sync::OnceLock<::std::string::String> =
                        ::std::sync::OnceLock::new();
                    let __name: &'static str = __CACHETTE_NAME.get_or_init(|| {
                        #support::Memoized::__default_name(
                            ::core::any::type_name_of_val(&__cachette_anchor),
                            #generated,
                            #function,
                            ::core::module_path!(),
                        )
                    });
                }
            }
        };
        let options = &self.args.options;
        let cache_none = options.cache_none.as_ref().filter(|_| named).map(|b| quote!(.cache_none(#b)));
        let make_name = options.make_name.as_ref().filter(|_| named).map(|f| quote!(.make_name(#f)));
        quote!({
            #name
            // A clone (one Arc), so that the cache expression may borrow an argument that the
            // loader then takes by value.
            let __cache: #support::Cache = { let __c: &#support::Cache = &(#cache); __c.clone() };
            #support::Memoized::new_static(__cache, __name, #ttl).with_source_hash(#source_hash) #cache_none #make_name
        })
    }

    /// The function itself, its output now `Result<T, CacheError>`.
    fn memoized(&self) -> TokenStream2 {
        let syn::ItemFn { attrs, vis, sig, .. } = &self.function.item;
        let (ok_type, loader) = self.function.ok_type_and_loader();
        let mut sig = sig.clone();
        sig.output = syn::parse_quote!(-> ::core::result::Result<#ok_type, ::cachette::CacheError>);
        let cache = &self.args.cache;
        // Evaluated here, where the arguments are in scope, so the lifetime may depend on them.
        let ttl = self.args.ttl.as_ref().map_or_else(|| quote!(::cachette::Ttl::Default), |t| quote!(#t));
        let handle = self.handle(&sig.ident, quote!(#cache), ttl, true);
        let key = &self.key;
        let load = match &self.args.policy {
            // Loaders with a stale window may go on in the background: they must be 'static.
            Some(policy) => quote! {
                __memo.get_or_set_with(&__key, &(#policy), move || async move #loader).await
            },
            None => quote!(__memo.get_or_set(&__key, move || async move #loader).await),
        };
        let options = &self.args.options;
        // `unless` first, before the handle: a skipped call evaluates nothing else.
        // Spanned by the user's expression, so that a type error points at it.
        let (unless, skip) = match &options.unless {
            Some(unless) => (
                quote_spanned!(unless.span()=> let __unless: bool = #unless;),
                quote!(if __unless { return __memo.call_uncached(move || async move #loader).await; }),
            ),
            None => (quote!(), quote!()),
        };
        let forced = options
            .forced_update
            .as_ref()
            .map(|f| quote_spanned!(f.span()=> let __forced: bool = #f; let __memo = __memo.forced_update(__forced);));
        let is_stale =
            options.is_stale.as_ref().map(|f| quote_spanned!(f.span()=> let __memo = __memo.is_stale::<#ok_type>(#f);));
        let filter = options
            .response_filter
            .as_ref()
            .map(|f| quote_spanned!(f.span()=> let __memo = __memo.response_filter::<#ok_type>(#f);));
        let cache_none_check = options.cache_none.as_ref().map(|b| {
            let support = support();
            quote_spanned!(b.span()=> #support::cache_none_applies::<#ok_type>();)
        });
        quote! {
            #(#attrs)*
            #vis #sig {
                #cache_none_check
                #unless
                let __memo = #handle;
                #skip
                #forced
                #is_stale
                #filter
                match __memo.key_if_available(&#key).await? {
                    ::core::option::Option::Some(__key) => #load,
                    // The cache is down: the function runs as if it were not memoized.
                    ::core::option::Option::None => __memo.load_uncached(move || async move #loader).await,
                }
            }
        }
    }

    /// `<fn>_forget(<the function's parameters>) -> Result<bool>`: one argument set.
    fn forget(&self) -> TokenStream2 {
        let syn::ItemFn { vis, sig, .. } = &self.function.item;
        let name = format_ident!("{}_forget", self.fn_name().unraw());
        let doc = format!(
            "Forgets the result that `{}` memoized for these arguments{}; returns whether there was one. \
             Generated by `#[memoize]`.",
            self.fn_name(),
            if self.function.receiver.is_some() { " and this instance" } else { "" },
        );
        let (generics, where_clause) = (&sig.generics, &sig.generics.where_clause);
        // An ignored argument stays a parameter only if the expressions evaluated here name it
        // (a `cache = state.cache` with `state` ignored): the companion must find the cache.
        let cache = &self.args.cache;
        let mut needed = Vec::new();
        identifiers(quote!(#cache), &mut needed);
        if let Some(make_name) = &self.args.options.make_name {
            identifiers(quote!(#make_name), &mut needed);
        }
        let ignored = &self.args.options.args_to_ignore;
        let inputs = self.function.forget_inputs(|arg| ignored.contains(arg) && !needed.contains(arg));
        let cfgs = cfg_attrs(&self.function.item.attrs);
        let handle = self.handle(&name, quote!(#cache), quote!(::cachette::Ttl::Default), true);
        let key = &self.key;
        quote! {
            #(#cfgs)*
            #[doc = #doc]
            #[allow(dead_code)]
            // An ignored argument kept for the cache expression may be named there only as a field.
            #[allow(unused_variables)]
            #vis async fn #name #generics (#inputs) -> ::core::result::Result<bool, ::cachette::CacheError>
            #where_clause
            {
                let __memo = #handle;
                __memo.delete(&#key).await
            }
        }
    }

    /// `<fn>_forget_all(cache) -> Result<()>`: every argument set (and instance), in O(1).
    fn forget_all(&self) -> TokenStream2 {
        let support = support();
        let vis = &self.function.item.vis;
        let name = format_ident!("{}_forget_all", self.fn_name().unraw());
        let doc = format!(
            "Forgets every result that `{}` memoized in `cache`, for all arguments{}, in O(1). \
             Generated by `#[memoize]`.",
            self.fn_name(),
            if self.function.receiver.is_some() { " and instances" } else { "" },
        );
        let cfgs = cfg_attrs(&self.function.item.attrs);
        let handle = self.handle(&name, quote!(cache), quote!(::cachette::Ttl::Default), false);
        quote! {
            #(#cfgs)*
            #[doc = #doc]
            #[allow(dead_code)]
            #vis async fn #name(cache: &#support::Cache) -> ::core::result::Result<(), ::cachette::CacheError> {
                let __memo = #handle;
                __memo.delete_all().await
            }
        }
    }
}

/// The function's `#[cfg(..)]`s, which its companions share (they would not compile alone).
fn cfg_attrs(attrs: &[Attribute]) -> impl Iterator<Item = &Attribute> {
    attrs.iter().filter(|a| a.path().is_ident("cfg"))
}
