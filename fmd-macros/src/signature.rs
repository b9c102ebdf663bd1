//! What the expansion reads off a function's signature and body: the `Result` or future it
//! returns, and an `async` block in tail position.

use proc_macro2::TokenStream;
use quote::{quote, ToTokens};
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, ReturnType, Stmt, Type};

/// The declared type of a plain function's `Result` return (`Result<T, E>`, `io::Result<T>`,
/// `fmt::Result`), with `impl Trait` as `_`; `None` for any other return type.
pub(crate) fn result_type(output: &ReturnType) -> Option<Type> {
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
pub(crate) fn future_output(output: &ReturnType) -> Option<Type> {
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
pub(crate) fn with_fake_return(output: &ReturnType, block: Block) -> TokenStream {
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

pub(crate) struct ImplTraitToInfer;

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
pub(crate) fn wrap_async_tail(
    block: &Block,
    wrap: &dyn Fn(TokenStream) -> TokenStream,
) -> Option<Block> {
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
