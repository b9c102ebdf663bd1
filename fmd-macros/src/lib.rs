//! Attribute macros of [fmd](https://docs.rs/fmd). Use them through the facade:
//! `#[fmd::monitored]`, `#[fmd::profiled]`, `fmd::span!`. The generated code calls
//! `::fmd::__private` only.
//!
//! Each macro runs in three steps, one module each: [`parse`] reads the input as written,
//! [`validate`] checks what it means (each error spanned at its culprit) and gathers what the
//! expansion needs, [`expand`] writes the code.

use proc_macro::TokenStream;

mod expand;
mod parse;
mod signature;
mod source;
mod validate;

#[cfg(test)]
mod tests;

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Monitored,
    Profiled,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Monitored => "monitored",
            Kind::Profiled => "profiled",
        }
    }
}

/// Monitors a handler function as an endpoint of the dashboard.
///
/// See the `fmd` crate's documentation for the full description and examples.
#[proc_macro_attribute]
pub fn monitored(args: TokenStream, item: TokenStream) -> TokenStream {
    attribute(Kind::Monitored, args.into(), item.into()).into()
}

/// Profiles a function: at level 3 (and for outliers at level 2) each call is a span in the
/// request's profile; otherwise a call costs one thread-local check.
///
/// See the `fmd` crate's documentation for the full description and examples.
#[proc_macro_attribute]
pub fn profiled(args: TokenStream, item: TokenStream) -> TokenStream {
    attribute(Kind::Profiled, args.into(), item.into()).into()
}

/// Profiles a block as a span named by its first argument: `span!("parse", { ... })`, or an
/// async block, `span!("fetch", async { ... }).await`.
///
/// See the `fmd` crate's documentation for the full description and examples.
#[proc_macro]
pub fn span(input: TokenStream) -> TokenStream {
    match syn::parse2::<parse::SpanInput>(input.into()).and_then(validate::span) {
        Ok(input) => expand::span(input),
        Err(err) => err.to_compile_error(),
    }
    .into()
}

fn attribute(
    kind: Kind,
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let annotated =
        parse::args(args, kind).and_then(|args| validate::function(kind, args, item.clone()));
    match annotated {
        Ok(annotated) => expand::function(annotated),
        // Emit the item untouched next to the error, so the user sees this one error and not a
        // cascade of "cannot find function" errors wherever the function is used.
        Err(err) => {
            let mut out = err.to_compile_error();
            out.extend(item);
            out
        }
    }
}
