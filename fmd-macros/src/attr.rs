//! Parsing and validation of `#[monitored(...)]` and `#[profiled(...)]` arguments.

use proc_macro2::{Span, TokenStream};
use syn::parse::Parser;
use syn::LitStr;

/// The longest endpoint name the database column holds.
const MAX_NAME_LEN: usize = 255;

#[derive(Default)]
pub(crate) struct MonitoredArgs {
    pub(crate) name: Option<LitStr>,
}

/// `macro_name` is the attribute's name, for messages.
pub(crate) fn parse(args: TokenStream, macro_name: &str) -> syn::Result<MonitoredArgs> {
    let mut parsed = MonitoredArgs::default();
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
            validate_name(&lit)?;
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

pub(crate) fn validate_name(lit: &LitStr) -> syn::Result<()> {
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

pub(crate) fn span_of_name(args: &MonitoredArgs, fallback: Span) -> Span {
    args.name.as_ref().map(|n| n.span()).unwrap_or(fallback)
}
