//! The function `#[memoize]` wraps: its receiver, the arguments that form the key, its output.

use proc_macro2::TokenStream as TokenStream2;
use quote::quote;
use syn::punctuated::Punctuated;
use syn::{FnArg, GenericArgument, Ident, ItemFn, Pat, PathArguments, Receiver, ReturnType, Token, Type};

/// An `async fn` checked for what `#[memoize]` needs.
pub(crate) struct Function {
    pub(crate) item: ItemFn,
    /// `self`, `&self`, `&mut self`, `self: Box<Self>`...: the function is a method.
    pub(crate) receiver: Option<Receiver>,
    /// The arguments other than `self`, in order: with the instance, they form the key.
    pub(crate) arg_names: Vec<Ident>,
}

impl Function {
    pub(crate) fn new(item: ItemFn) -> syn::Result<Function> {
        if item.sig.asyncness.is_none() {
            return Err(syn::Error::new_spanned(item.sig.fn_token, "#[memoize] works on async functions"));
        }
        let mut receiver = None;
        let mut arg_names = Vec::new();
        for input in &item.sig.inputs {
            match input {
                FnArg::Receiver(r) => receiver = Some(r.clone()),
                FnArg::Typed(pat_type) => match &*pat_type.pat {
                    Pat::Ident(ident) => arg_names.push(ident.ident.clone()),
                    other => {
                        return Err(syn::Error::new_spanned(
                            other,
                            "#[memoize] needs plain `name: Type` arguments (they form the cache key); destructure inside the body",
                        ));
                    }
                },
            }
        }
        Ok(Function { item, receiver, arg_names })
    }

    /// The parameters of `<fn>_forget`: the function's own, so that forgetting with an argument of
    /// another type does not compile (its key would differ: nothing would be forgotten), less
    /// the ones `dropped` says are not needed (ignored arguments that no expression the
    /// companion evaluates names). The receiver becomes `&self` (forgetting only reads the
    /// instance), typed receivers such as `self: Arc<Self>` stay; `mut` goes (the companion
    /// mutates nothing).
    pub(crate) fn forget_inputs(&self, dropped: impl Fn(&Ident) -> bool) -> Punctuated<FnArg, Token![,]> {
        let mut inputs = Punctuated::new();
        for input in &self.item.sig.inputs {
            let mut input = input.clone();
            match &mut input {
                FnArg::Receiver(r) if r.colon_token.is_none() => {
                    let attrs = &r.attrs;
                    *r = syn::parse_quote!(#(#attrs)* &self);
                }
                FnArg::Receiver(r) => r.mutability = None,
                FnArg::Typed(pat_type) => {
                    if let Pat::Ident(ident) = &mut *pat_type.pat {
                        if dropped(&ident.ident) {
                            continue;
                        }
                        ident.mutability = None;
                        ident.by_ref = None;
                    }
                }
            }
            inputs.push(input);
        }
        inputs
    }

    /// The type of the values cached (`T` of a `Result<T, E>` output, else the output) and the
    /// loader's body: the function's block as an async block whose output is a `Result`.
    pub(crate) fn ok_type_and_loader(&self) -> (TokenStream2, TokenStream2) {
        let block = &self.item.block;
        let output = match &self.item.sig.output {
            ReturnType::Default => quote!(()),
            ReturnType::Type(_, ty) => quote!(#ty),
        };
        match &self.item.sig.output {
            ReturnType::Type(_, ty) if result_ok_type(ty).is_some() => {
                let ok = result_ok_type(ty).expect("checked");
                (quote!(#ok), quote!({ let __out: #output = async move #block.await; __out }))
            }
            _ => (
                output.clone(),
                quote!({
                    let __out: #output = async move #block.await;
                    ::core::result::Result::<#output, ::core::convert::Infallible>::Ok(__out)
                }),
            ),
        }
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
