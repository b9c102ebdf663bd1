//! Validation: what the parsed input must be for an expansion to make sense, with each error
//! spanned at its culprit. Its result is what [`crate::expand`] works from.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::{Expr, ItemFn, LitStr};

use crate::parse::{Args, SpanInput};
use crate::source::{self, Captured};
use crate::Kind;

/// The longest endpoint name the database column holds.
const MAX_NAME_LEN: usize = 255;

/// An annotated function, validated: everything its expansion needs.
pub(crate) struct Annotated {
    pub(crate) kind: Kind,
    pub(crate) func: ItemFn,
    /// The name it is shown by, spanned at `name = "..."` or else at the function's name.
    pub(crate) name: LitStr,
    /// Its source text as written.
    pub(crate) captured: Captured,
}

/// Checks an attribute's item and arguments.
pub(crate) fn function(kind: Kind, args: Args, item: TokenStream) -> syn::Result<Annotated> {
    if let Some(lit) = &args.name {
        name(lit)?;
    }
    let func = self::item(item, kind.name())?;
    let captured = source::capture(&func);
    let name = args
        .name
        .unwrap_or_else(|| LitStr::new(&func.sig.ident.to_string(), func.sig.ident.span()));
    Ok(Annotated {
        kind,
        func,
        name,
        captured,
    })
}

/// Checks `span!`'s name and body.
pub(crate) fn span(input: SpanInput) -> syn::Result<SpanInput> {
    name(&input.name)?;
    if !matches!(input.body, Expr::Block(_) | Expr::Async(_)) {
        return Err(syn::Error::new_spanned(
            &input.body,
            "the span's body must be a block `{ ... }` or an async block `async { ... }`",
        ));
    }
    Ok(input)
}

/// A name fits the database column and is not blank.
pub(crate) fn name(lit: &LitStr) -> syn::Result<()> {
    let name = lit.value();
    if name.trim().is_empty() {
        return Err(syn::Error::new(lit.span(), "`name` must not be empty"));
    }
    if name.len() > MAX_NAME_LEN {
        return Err(syn::Error::new(
            lit.span(),
            format!("`name` must be at most {MAX_NAME_LEN} bytes long"),
        ));
    }
    Ok(())
}

fn item(item: TokenStream, macro_name: &str) -> syn::Result<ItemFn> {
    match syn::parse2::<ItemFn>(item.clone()) {
        Ok(func) => {
            if let Some(constness) = &func.sig.constness {
                return Err(syn::Error::new_spanned(
                    constness,
                    format!("`#[{macro_name}]` cannot be applied to a `const fn`: it measures calls at run time"),
                ));
            }
            Ok(func)
        }
        Err(parse_err) => match syn::parse2::<syn::Item>(item.clone()) {
            Ok(syn::Item::Verbatim(_)) | Err(_) => {
                // A method without a body (in a trait), or tokens that are not an item at all.
                match syn::parse2::<syn::TraitItemFn>(item) {
                    Ok(f) if f.default.is_none() => Err(syn::Error::new_spanned(
                        f.sig.ident,
                        format!("`#[{macro_name}]` needs a function with a body"),
                    )),
                    _ => Err(parse_err),
                }
            }
            Ok(other) => Err(syn::Error::new_spanned(
                item_head(&other),
                format!("`#[{macro_name}]` can only be applied to functions"),
            )),
        },
    }
}

/// The tokens that name an item (`struct Foo`), to span the error at them rather than at the
/// whole item.
fn item_head(item: &syn::Item) -> TokenStream {
    match item {
        syn::Item::Struct(s) => {
            let (t, i) = (&s.struct_token, &s.ident);
            quote!(#t #i)
        }
        syn::Item::Enum(e) => {
            let (t, i) = (&e.enum_token, &e.ident);
            quote!(#t #i)
        }
        syn::Item::Impl(i) => i.impl_token.to_token_stream(),
        syn::Item::Mod(m) => {
            let (t, i) = (&m.mod_token, &m.ident);
            quote!(#t #i)
        }
        syn::Item::Trait(t) => {
            let (k, i) = (&t.trait_token, &t.ident);
            quote!(#k #i)
        }
        syn::Item::Static(s) => {
            let (k, i) = (&s.static_token, &s.ident);
            quote!(#k #i)
        }
        syn::Item::Const(c) => {
            let (k, i) = (&c.const_token, &c.ident);
            quote!(#k #i)
        }
        other => other.to_token_stream(),
    }
}
