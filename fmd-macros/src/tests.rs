//! Expansion snapshots: what `#[monitored]` and `#[profiled]` write for an async fn, a plain fn,
//! a method and a function returning `Result`, pretty-printed. A change to an expansion shows
//! up here as a diff to review (`cargo insta review`), not only as a behaviour change.

use quote::quote;

use crate::Kind;

fn expanded(kind: Kind, args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> String {
    let tokens = crate::attribute(kind, args, item);
    let file: syn::File = syn::parse2(tokens).expect("the expansion is an item");
    prettyplease::unparse(&file)
}

macro_rules! snapshots {
    ($($test:ident: $kind:expr, ($($args:tt)*), $item:expr;)*) => {$(
        #[test]
        fn $test() {
            insta::assert_snapshot!(expanded($kind, quote!($($args)*), $item));
        }
    )*};
}

snapshots! {
    monitored_async_fn: Kind::Monitored, (), quote! {
        async fn show(id: u32) -> String { format!("user {id}") }
    };
    monitored_plain_fn: Kind::Monitored, (name = "health"), quote! {
        fn health() -> &'static str { "ok" }
    };
    monitored_method: Kind::Monitored, (), quote! {
        fn show(&self, id: u32) -> String { self.render(id) }
    };
    monitored_result_fn: Kind::Monitored, (), quote! {
        fn load(path: &str) -> std::io::Result<String> { std::fs::read_to_string(path) }
    };
    profiled_async_fn: Kind::Profiled, (), quote! {
        async fn fetch(id: u32) -> Option<u32> { Some(id) }
    };
    profiled_plain_fn: Kind::Profiled, (), quote! {
        fn parse(text: &str) -> usize { text.len() }
    };
    profiled_method: Kind::Profiled, (name = "Repo::find"), quote! {
        fn find(&self, id: u32) -> Option<u32> { self.rows.get(id) }
    };
    profiled_result_fn: Kind::Profiled, (), quote! {
        fn decode(raw: &[u8]) -> Result<String, std::string::FromUtf8Error> {
            let text = String::from_utf8(raw.to_vec())?;
            Ok(text)
        }
    };
}

#[test]
fn an_error_keeps_the_item_beside_it() {
    let out = crate::attribute(
        Kind::Monitored,
        quote!(nme = "x"),
        quote!(
            fn f() {}
        ),
    )
    .to_string();
    assert!(out.contains("compile_error"), "{out}");
    assert!(out.contains("unknown argument `nme`"), "{out}");
    assert!(out.ends_with("fn f () { }"), "{out}");
}
