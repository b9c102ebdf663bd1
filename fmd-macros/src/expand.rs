//! Expansion of `#[monitored]` and `#[profiled]`: the function keeps its signature, gains a
//! static endpoint (or function) registered with `inventory`, and its body is timed by the
//! runtime: as a request, or as a span of the request it runs in.

use proc_macro2::{Span, TokenStream};
use quote::{quote, ToTokens};
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, ItemFn, ReturnType, Stmt, Type};

use crate::{attr, source};

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Kind {
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

pub(crate) fn attribute(kind: Kind, args: TokenStream, item: TokenStream) -> TokenStream {
    match try_attribute(kind, args, item.clone()) {
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

fn try_attribute(kind: Kind, args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let args = attr::parse(args, kind.name())?;
    let func = validate_item(item, kind.name())?;
    let captured = source::capture(&func);
    let name = args
        .name
        .as_ref()
        .map(|n| n.value())
        .unwrap_or_else(|| func.sig.ident.to_string());
    let name_span = attr::span_of_name(&args, func.sig.ident.span());
    Ok(expand(kind, func, &name, name_span, &captured))
}

fn validate_item(item: TokenStream, macro_name: &str) -> syn::Result<ItemFn> {
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

fn expand(
    kind: Kind,
    func: ItemFn,
    name: &str,
    name_span: Span,
    captured: &source::Captured,
) -> TokenStream {
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
    let meta = quote! {
        ::fmd::__private::EndpointMeta {
            name: #name_lit,
            module_path: ::core::module_path!(),
            function: #function,
            file: ::core::file!(),
            line: #line,
            source: #text,
            source_sha256: #sha,
        }
    };
    let (item, wrapper, wrapper_reporting, target, guard, returned) = match kind {
        Kind::Monitored => (
            quote! {
                static __FMD_ENDPOINT: ::fmd::__private::Endpoint =
                    ::fmd::__private::Endpoint::new(#meta);
                ::fmd::__private::inventory::submit! {
                    ::fmd::__private::EndpointRef(&__FMD_ENDPOINT)
                }
            },
            quote!(::fmd::__private::Monitored::new),
            quote!(::fmd::__private::Monitored::reporting),
            quote!(__FMD_ENDPOINT),
            quote!(::fmd::__private::SyncGuard::enter(&__FMD_ENDPOINT)),
            quote!(::fmd::__private::endpoint_returned),
        ),
        Kind::Profiled => (
            quote! {
                static __FMD_FUNCTION: ::fmd::__private::Function =
                    ::fmd::__private::Function::new(#meta);
                ::fmd::__private::inventory::submit! {
                    ::fmd::__private::FunctionRef(&__FMD_FUNCTION)
                }
            },
            quote!(::fmd::__private::Profiled::new),
            quote!(::fmd::__private::Profiled::reporting),
            quote!(__FMD_FUNCTION),
            quote!(::fmd::__private::SpanGuard::function(&__FMD_FUNCTION)),
            quote!(::fmd::__private::function_returned),
        ),
    };
    let wrap = |inner: TokenStream| quote!(#wrapper(&#target, #inner));
    // Hands the value the function returns to the runtime, which follows errors on their way out
    // of the request (`fmd_core::trail`); the value's type picks the classification.
    let report = quote! {
        #returned(&#target, {
            #[allow(unused_imports)]
            use ::fmd::__private::{
                ReturnedDeref as _, ReturnedError as _, ReturnedOther as _, ReturnedValue as _,
            };
            (&&&&::fmd::__private::Ret(__fmd_out)).fmd_returned()
        });
    };
    // The wrapper with a closure that reports the future's output, of type `ty`, from inside
    // the poll that produced it. The parameter is typed from the signature: the future's output
    // type alone may not be known yet where the classification is resolved. A unit or
    // `impl Trait` output is no `Result` the classification could see: it is a value.
    let reporting = |future: TokenStream, ty: Type| {
        let closure = match ty {
            Type::Tuple(t) if t.elems.is_empty() => quote!(|_: &()| {
                #returned(&#target, ::fmd::__private::Returned::Value)
            }),
            Type::ImplTrait(_) | Type::Infer(_) => quote!(|_: &_| {
                #returned(&#target, ::fmd::__private::Returned::Value)
            }),
            ty => quote!(|__fmd_out: &#ty| { #report }),
        };
        quote!(#wrapper_reporting(&#target, #future, #closure))
    };

    let body = if sig.asyncness.is_some() {
        let inner = with_fake_return(&sig.output, *block);
        let output = match &sig.output {
            ReturnType::Default => syn::parse_quote!(()),
            ReturnType::Type(_, ty) => {
                let mut ty = (**ty).clone();
                ImplTraitToInfer.visit_type_mut(&mut ty);
                ty
            }
        };
        let call = reporting(quote!(async move #inner), output);
        quote! { #call.await }
    } else if let Some(block) = wrap_async_tail(&block, &|future| {
        // `fn f() -> impl Future { async move { ... } }` and async-trait's
        // `Box::pin(async move { ... })`: time the returned future, not its construction. Its
        // output is reported when the signature names it: the block alone may not fix its type.
        match future_output(&sig.output) {
            Some(ty) => reporting(future, ty),
            None => wrap(future),
        }
    }) {
        quote! { #block }
    } else if let Some(ty) = result_type(&sig.output) {
        // A plain function returning a `Result`: its body runs in a closure, so that every
        // `return` and `?` yields the value to report.
        let stmts = &block.stmts;
        let guard = match kind {
            Kind::Monitored => guard,
            Kind::Profiled => quote!(::fmd::__private::SpanGuard::enter(&__FMD_FUNCTION)),
        };
        quote! {
            #[allow(unused_variables, clippy::let_underscore_untyped)]
            let __fmd_guard = #guard;
            #[allow(clippy::redundant_closure_call)]
            let __fmd_out: #ty = (move || { #(#stmts)* })();
            {
                let __fmd_out = &__fmd_out;
                #report
            }
            __fmd_out
        }
    } else {
        let stmts = &block.stmts;
        quote! {
            #[allow(unused_variables, clippy::let_underscore_untyped)]
            let __fmd_guard = #guard;
            #(#stmts)*
        }
    };

    quote! {
        #(#attrs)*
        #vis #sig {
            #item
            #body
        }
    }
}

/// The declared type of a plain function's `Result` return (`Result<T, E>`, `io::Result<T>`,
/// `fmt::Result`), with `impl Trait` as `_`; `None` for any other return type.
fn result_type(output: &ReturnType) -> Option<Type> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let Type::Path(path) = &**ty else { return None };
    if path.qself.is_some() || path.path.segments.last()?.ident != "Result" {
        return None;
    }
    let mut ty = (**ty).clone();
    ImplTraitToInfer.visit_type_mut(&mut ty);
    Some(ty)
}

/// `T` of a return type `impl Future<Output = T>` or `Pin<Box<dyn Future<Output = T> + ..>>`.
fn future_output(output: &ReturnType) -> Option<Type> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let bounds = match &**ty {
        Type::ImplTrait(it) => &it.bounds,
        Type::Path(pin) => {
            let boxed = only_type_argument(pin.path.segments.last()?)?;
            let Type::Path(boxed) = boxed else {
                return None;
            };
            match only_type_argument(boxed.path.segments.last()?)? {
                Type::TraitObject(object) => &object.bounds,
                _ => return None,
            }
        }
        _ => return None,
    };
    bounds.iter().find_map(|bound| {
        let syn::TypeParamBound::Trait(tr) = bound else {
            return None;
        };
        let last = tr.path.segments.last()?;
        if last.ident != "Future" {
            return None;
        }
        let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
            return None;
        };
        args.args.iter().find_map(|arg| match arg {
            syn::GenericArgument::AssocType(assoc) if assoc.ident == "Output" => {
                let mut ty = assoc.ty.clone();
                ImplTraitToInfer.visit_type_mut(&mut ty);
                Some(ty)
            }
            _ => None,
        })
    })
}

/// The one type argument of `Pin<..>` or `Box<..>`.
fn only_type_argument(segment: &syn::PathSegment) -> Option<&Type> {
    if segment.ident != "Pin" && segment.ident != "Box" {
        return None;
    }
    let syn::PathArguments::AngleBracketed(args) = &segment.arguments else {
        return None;
    };
    args.args.iter().find_map(|arg| match arg {
        syn::GenericArgument::Type(ty) => Some(ty),
        _ => None,
    })
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
fn wrap_async_tail(block: &Block, wrap: &dyn Fn(TokenStream) -> TokenStream) -> Option<Block> {
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
    let wrapped = wrap(target.to_token_stream());
    *target = syn::parse2(wrapped).ok()?;
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

/// `span!("name", { ... })` or `span!("name", async { ... })`.
struct SpanInput {
    name: syn::LitStr,
    body: Expr,
}

impl syn::parse::Parse for SpanInput {
    fn parse(input: syn::parse::ParseStream<'_>) -> syn::Result<Self> {
        const USAGE: &str =
            "expected `span!(\"name\", { ... })` or `span!(\"name\", async { ... })`";
        if input.is_empty() {
            return Err(input.error(USAGE));
        }
        let name: syn::LitStr =
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
        attr::validate_name(&name)?;
        if input.is_empty() {
            return Err(syn::Error::new_spanned(
                &name,
                "missing the block to profile: `span!(\"name\", { ... })`",
            ));
        }
        input.parse::<syn::Token![,]>()?;
        let body: Expr = input.parse()?;
        if !matches!(body, Expr::Block(_) | Expr::Async(_)) {
            return Err(syn::Error::new_spanned(
                &body,
                "the span's body must be a block `{ ... }` or an async block `async { ... }`",
            ));
        }
        let _ = input.parse::<Option<syn::Token![,]>>()?;
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the span's body"));
        }
        Ok(SpanInput { name, body })
    }
}

pub(crate) fn span(input: TokenStream) -> TokenStream {
    let SpanInput { name, body } = match syn::parse2::<SpanInput>(input) {
        Ok(parsed) => parsed,
        Err(err) => return err.to_compile_error(),
    };
    let captured = source::capture(&body);
    // Named blocks with the same body are different spans: the name is part of the identity.
    let sha = source::sha256_hex(&format!("{}\n{}", name.value(), captured.text));
    let (text, sha, line) = (&captured.text, &sha, captured.first_line);
    let item = quote! {
        static __FMD_SPAN: ::fmd::__private::Function =
            ::fmd::__private::Function::new(::fmd::__private::EndpointMeta {
                name: #name,
                module_path: ::core::module_path!(),
                function: #name,
                file: ::core::file!(),
                line: #line,
                source: #text,
                source_sha256: #sha,
            });
        ::fmd::__private::inventory::submit! {
            ::fmd::__private::FunctionRef(&__FMD_SPAN)
        }
    };
    if let Expr::Async(_) = body {
        quote! {{
            #item
            ::fmd::__private::Profiled::new(&__FMD_SPAN, #body)
        }}
    } else {
        // The block's statements go in the macro's own block: wrapping the user's braces in
        // another pair would set off `unused_braces` in their code.
        let stmts = match &body {
            Expr::Block(b) if b.label.is_none() && b.attrs.is_empty() => {
                let stmts = &b.block.stmts;
                quote!(#(#stmts)*)
            }
            other => quote!(#other),
        };
        quote! {{
            #item
            #[allow(clippy::let_underscore_untyped)]
            let __fmd_span = ::fmd::__private::SpanGuard::enter(&__FMD_SPAN);
            #stmts
        }}
    }
}
