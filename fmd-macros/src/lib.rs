//! Attribute macros of [fmd](https://docs.rs/fmd). Use them through the facade:
//! `#[fmd::monitored]`, `#[fmd::profiled]`, `fmd::span!`. The generated code calls
//! `::fmd::__private` only.

use proc_macro::TokenStream;

mod attr;
mod expand;
mod source;

/// Monitors a handler function as an endpoint of the dashboard.
///
/// See the `fmd` crate's documentation for the full description and examples.
#[proc_macro_attribute]
pub fn monitored(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(expand::Kind::Monitored, args.into(), item.into()).into()
}

/// Profiles a function: at level 3 (and for outliers at level 2) each call is a span in the
/// request's profile; otherwise a call costs one thread-local check.
///
/// See the `fmd` crate's documentation for the full description and examples.
#[proc_macro_attribute]
pub fn profiled(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute(expand::Kind::Profiled, args.into(), item.into()).into()
}

/// Profiles a block as a span named by its first argument: `span!("parse", { ... })`, or an
/// async block, `span!("fetch", async { ... }).await`.
///
/// See the `fmd` crate's documentation for the full description and examples.
#[proc_macro]
pub fn span(input: TokenStream) -> TokenStream {
    expand::span(input.into()).into()
}
