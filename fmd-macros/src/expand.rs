//! Expansion of `#[monitored]`: the function keeps its signature, gains a static endpoint
//! registered with `inventory`, and its body is timed by the runtime.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, ItemFn, ReturnType, Stmt, Type};

use crate::{attr, source};

pub(crate) fn monitored(args: TokenStream, item: TokenStream) -> TokenStream {
    match try_monitored(args, item.clone()) {
        Ok(tokens) => tokens,
        // Emit the item untouched next to the error, so the user sees this one error and not a
        // cascade of "cannot find function" errors wherever the function is used.
        Err(err) => {
            let mut out = err.to_compile_error();
            out.extend(item);
            out
        }
    }
}

fn try_monitored(args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = attr::parse(args)?;
    let func = validate_item(item)?;
    let captured = source::capture(&func);
    let name = args
        .name
        .as_ref()
        .map(|n| n.value())
        .unwrap_or_else(|| func.sig.ident.to_string());
    let name_span = attr::span_of_name(&args, func.sig.ident.span());
    Ok(expand(func, &name, name_span, &captured))
}

fn validate_item(item: TokenStream) -> syn::Result<ItemFn> {
    match syn::parse2::<ItemFn>(item.clone()) {
        Ok(func) => {
            if let Some(constness) = &func.sig.constness {
                return Err(syn::Error::new_spanned(
                    constness,
                    "`#[monitored]` cannot be applied to a `const fn`: it measures calls at run time",
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
                        "`#[monitored]` needs a function with a body",
                    )),
                    _ => Err(parse_err),
                }
            }
            Ok(other) => Err(syn::Error::new_spanned(
                item_head(&other),
                "`#[monitored]` can only be applied to functions",
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

fn expand(func: ItemFn, name: &str, name_span: Span, captured: &source::Captured) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let text = &captured.text;
    let sha = &captured.sha256;
    let line = captured.first_line;
    let name_lit = syn::LitStr::new(name, name_span);
    let function = sig.ident.to_string();
    let endpoint = quote! {
        static __FMD_ENDPOINT: ::fmd::__private::Endpoint =
            ::fmd::__private::Endpoint::new(::fmd::__private::EndpointMeta {
                name: #name_lit,
                module_path: ::core::module_path!(),
                function: #function,
                file: ::core::file!(),
                line: #line,
                source: #text,
                source_sha256: #sha,
            });
        ::fmd::__private::inventory::submit! {
            ::fmd::__private::EndpointRef(&__FMD_ENDPOINT)
        }
    };

    let body = if sig.asyncness.is_some() {
        let inner = with_fake_return(&sig.output, *block);
        quote! {
            ::fmd::__private::Monitored::new(&__FMD_ENDPOINT, async move #inner).await
        }
    } else if let Some(block) = wrap_async_tail(&block) {
        // `fn f() -> impl Future { async move { ... } }` and async-trait's
        // `Box::pin(async move { ... })`: time the returned future, not its construction.
        quote! { #block }
    } else {
        let stmts = &block.stmts;
        quote! {
            #[allow(unused_variables, clippy::let_underscore_untyped)]
            let __fmd_guard = ::fmd::__private::SyncGuard::enter(&__FMD_ENDPOINT);
            #(#stmts)*
        }
    };

    quote! {
        #(#attrs)*
        #vis #sig {
            #endpoint
            #body
        }
    }
}

/// The body as an async block that infers its output type as the `async fn` did: a return edge
/// of the declared type, never executed, precedes the untouched statements, so `?` and `.into()`
/// resolve against the signature and a diverging body (`todo!()`) adds no unreachable code after
/// it. `impl Trait` cannot be written in a `let`, so it becomes `_`.
fn with_fake_return(output: &ReturnType, block: Block) -> TokenStream {
    let stmts = &block.stmts;
    let ReturnType::Type(_, ty) = output else {
        return quote!({ #(#stmts)* });
    };
    let mut ty = (**ty).clone();
    ImplTraitToInfer.visit_type_mut(&mut ty);
    quote! {{
        #[allow(
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::needless_return
        )]
        if false {
            let __fmd_fake_return: #ty = loop {};
            return __fmd_fake_return;
        }
        #(#stmts)*
    }}
}

struct ImplTraitToInfer;

impl VisitMut for ImplTraitToInfer {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(it) = ty {
            *ty = Type::Infer(syn::TypeInfer {
                underscore_token: syn::Token![_](it.impl_token.span),
            });
            return;
        }
        syn::visit_mut::visit_type_mut(self, ty);
    }
}

/// Rewrites a block whose tail is `async move {..}` or `Box::pin(async move {..})` so the async
/// block is wrapped in the monitor. Returns `None` for any other body.
fn wrap_async_tail(block: &Block) -> Option<Block> {
    let mut block = block.clone();
    let tail = match block.stmts.last_mut()? {
        Stmt::Expr(expr, None) => expr,
        _ => return None,
    };
    let target: &mut Expr = match tail {
        Expr::Async(_) => tail,
        Expr::Call(call) if is_box_pin(&call.func) && call.args.len() == 1 => {
            let arg = call.args.first_mut()?;
            if !matches!(arg, Expr::Async(_)) {
                return None;
            }
            arg
        }
        _ => return None,
    };
    let inner = target.clone();
    *target = syn::parse_quote! {
        ::fmd::__private::Monitored::new(&__FMD_ENDPOINT, #inner)
    };
    Some(block)
}

fn is_box_pin(func: &Expr) -> bool {
    let Expr::Path(path) = func else { return false };
    let segments: Vec<String> = path
        .path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect();
    segments.ends_with(&["Box".into(), "pin".into()])
}
