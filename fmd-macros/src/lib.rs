//! Attribute macros of [fmd](https://docs.rs/fmd). Use them through the facade:
//! `#[fmd::monitored]`. The generated code calls `::fmd::__private` only.

use proc_macro::TokenStream;

mod attr;
mod expand;
mod source;

/// Monitors a handler function as an endpoint of the dashboard.
///
/// See the `fmd` crate's documentation for the full description and examples.
#[proc_macro_attribute]
pub fn monitored(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::monitored(args.into(), item.into()).into()
}
