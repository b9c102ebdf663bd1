//! Parsing: the attributes' arguments and `span!`'s input, as written. What they mean is checked
//! in [`crate::validate`].

use proc_macro2::TokenStream;
use syn::parse::Parser;
use syn::{Expr, LitStr};

use crate::Kind;

/// The arguments of an attribute.
#[derive(Default)]
pub(crate) struct Args {
    /// `name = "..."`: the name the endpoint or function is shown by.
    pub(crate) name: Option<LitStr>,
}

/// The arguments of `#[monitored(...)]` or `#[profiled(...)]`.
pub(crate) fn args(args: TokenStream, kind: Kind) -> syn::Result<Args> {
    let macro_name = kind.name();
    let mut parsed = Args::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            if parsed.name.is_some() {
                return Err(meta.error("duplicate `name` argument"));
            }
            let value = meta.value()?;
            let expr: syn::Expr = value.parse()?;
            let lit = match expr {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(lit),
                    ..
                }) => lit,
                other => {
                    return Err(syn::Error::new_spanned(
                        other,
                        "`name` must be a string literal, e.g. `name = \"users.show\"`",
                    ))
                }
            };
            parsed.name = Some(lit);
            Ok(())
        } else {
            let shown = meta
                .path
                .get_ident()
                .map(|i| i.to_string())
                .unwrap_or_else(|| "this".into());
            Err(meta.error(format!(
                "unknown argument `{shown}`; `#[{macro_name}]` accepts `name = \"...\"`"
            )))
        }
    });
    parser.parse2(args)?;
    Ok(parsed)
}

/// `span!("name", { ... })` or `span!("name", async { ... })`.
pub(crate) struct SpanInput {
    pub(crate) name: LitStr,
    pub(crate) body: Expr,
}

impl syn::parse::Parse for SpanInput {
    fn parse(input: syn::parse::ParseStream<'_>) -> syn::Result<Self> {
        const USAGE: &str =
            "expected `span!(\"name\", { ... })` or `span!(\"name\", async { ... })`";
        if input.is_empty() {
            return Err(input.error(USAGE));
        }
        let name: LitStr =
            match input.parse::<syn::Lit>() {
                Ok(syn::Lit::Str(lit)) => lit,
                Ok(other) => return Err(syn::Error::new_spanned(
                    other,
                    "the span's name must be a string literal, e.g. `span!(\"parse\", { ... })`",
                )),
                Err(e) => return Err(syn::Error::new(
                    e.span(),
                    "the span's name must be a string literal, e.g. `span!(\"parse\", { ... })`",
                )),
            };
        if input.is_empty() {
            return Err(syn::Error::new_spanned(
                &name,
                "missing the block to profile: `span!(\"name\", { ... })`",
            ));
        }
        input.parse::<syn::Token![,]>()?;
        let body: Expr = input.parse()?;
        let _ = input.parse::<Option<syn::Token![,]>>()?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the span's body"));
        }
        Ok(SpanInput { name, body })
    }
}
