//! Expansion of `#[monitored]` and `#[profiled]`: the function keeps its signature, gains a
//! static endpoint (or function) registered with `inventory`, and its body is timed by the
//! runtime: as a request, or as a span of the request it runs in.

use proc_macro2::TokenStream;
use quote::quote;
use syn::visit_mut::VisitMut;
use syn::{Expr, ItemFn, ReturnType, Type};

use crate::parse::SpanInput;
use crate::signature::{
    future_output, result_type, with_fake_return, wrap_async_tail, ImplTraitToInfer,
};
use crate::source;
use crate::validate::Annotated;
use crate::Kind;

/// The runtime's names an expansion uses, per attribute.
struct Runtime {
    /// The static the function owns, registered with `inventory`.
    item: TokenStream,
    /// The future wrapper's constructor, and the one that reports the output.
    wrapper: TokenStream,
    wrapper_reporting: TokenStream,
    /// The static's name.
    target: TokenStream,
    /// The guard of a plain function's call.
    guard: TokenStream,
    /// The function handed the returned value.
    returned: TokenStream,
}

impl Runtime {
    fn of(kind: Kind, meta: &TokenStream) -> Runtime {
        match kind {
            Kind::Monitored => Runtime {
                item: quote! {
                    static __FMD_ENDPOINT: ::fmd::__private::Endpoint =
                        ::fmd::__private::Endpoint::new(#meta);
                    ::fmd::__private::inventory::submit! {
                        ::fmd::__private::EndpointRef(&__FMD_ENDPOINT)
                    }
                },
                wrapper: quote!(::fmd::__private::Monitored::new),
                wrapper_reporting: quote!(::fmd::__private::Monitored::reporting),
                target: quote!(__FMD_ENDPOINT),
                guard: quote!(::fmd::__private::SyncGuard::enter(&__FMD_ENDPOINT)),
                returned: quote!(::fmd::__private::endpoint_returned),
            },
            Kind::Profiled => Runtime {
                item: quote! {
                    static __FMD_FUNCTION: ::fmd::__private::Function =
                        ::fmd::__private::Function::new(#meta);
                    ::fmd::__private::inventory::submit! {
                        ::fmd::__private::FunctionRef(&__FMD_FUNCTION)
                    }
                },
                wrapper: quote!(::fmd::__private::Profiled::new),
                wrapper_reporting: quote!(::fmd::__private::Profiled::reporting),
                target: quote!(__FMD_FUNCTION),
                guard: quote!(::fmd::__private::SpanGuard::function(&__FMD_FUNCTION)),
                returned: quote!(::fmd::__private::function_returned),
            },
        }
    }
}

/// An annotated function's expansion.
pub(crate) fn function(annotated: Annotated) -> TokenStream {
    let Annotated {
        kind,
        func,
        name,
        captured,
    } = annotated;
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let text = &captured.text;
    let sha = &captured.sha256;
    let line = captured.first_line;
    let function = sig.ident.to_string();
    let meta = quote! {
        ::fmd::__private::EndpointMeta {
            name: #name,
            module_path: ::core::module_path!(),
            function: #function,
            file: ::core::file!(),
            line: #line,
            source: #text,
            source_sha256: #sha,
        }
    };
    let Runtime {
        item,
        wrapper,
        wrapper_reporting,
        target,
        guard,
        returned,
    } = Runtime::of(kind, &meta);
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

/// `span!`'s expansion: a static function for the block, and the block timed as its span.
pub(crate) fn span(input: SpanInput) -> TokenStream {
    let SpanInput { name, body } = input;
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
