//! Every shape of function `#[profiled]` accepts, and `span!` in sync and async code, compiles
//! as it did without the macros, with no warning of their own.
#![deny(warnings)]

use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;

use fmd::profiled;

#[profiled]
fn plain(a: u32) -> u32 {
    a + 1
}

#[profiled(name = "db.load")]
async fn load(id: u32) -> Result<String, std::io::Error> {
    if id == 0 {
        return Err(std::io::Error::other("no such id"));
    }
    let text = render(id)?;
    Ok(text)
}

#[profiled]
fn render(id: u32) -> Result<String, std::io::Error> {
    Ok(format!("user {id}"))
}

#[profiled]
fn generic<T: Display + Clone>(value: &T) -> impl Display {
    value.clone()
}

#[profiled]
async fn generic_async<T: Display + Send>(value: T) -> String {
    value.to_string()
}

#[profiled]
fn returns_future(n: u32) -> impl Future<Output = u32> {
    async move { n * 2 }
}

struct Repo;

impl Repo {
    #[profiled]
    fn get(&self, id: u32) -> u32 {
        id
    }

    #[profiled]
    async fn fetch(&mut self, id: u32) -> u32 {
        id
    }

    /// async-trait's shape.
    #[profiled]
    fn boxed<'a>(&'a self, id: u32) -> Pin<Box<dyn Future<Output = u32> + Send + 'a>> {
        Box::pin(async move { self.get(id) })
    }
}

#[profiled]
fn unfinished() -> u32 {
    todo!()
}

/// Plain functions returning a `Result` run their body in a closure: `return`, `?`, borrows of
/// `self` and of arguments, `mut` arguments, generics and `impl Trait` still work.
struct Names(Vec<String>);

impl Names {
    #[profiled]
    fn first(&self) -> Result<&str, std::fmt::Error> {
        self.0.first().map(|s| s.as_str()).ok_or(std::fmt::Error)
    }

    #[profiled]
    fn push(&mut self, name: &str) -> std::io::Result<usize> {
        if name.is_empty() {
            return Err(std::io::Error::other("empty name"));
        }
        self.0.push(name.to_owned());
        Ok(self.0.len())
    }
}

#[profiled]
fn longest<'a>(a: &'a str, b: &'a str) -> Result<&'a str, std::fmt::Error> {
    Ok(if a.len() >= b.len() { a } else { b })
}

#[profiled]
fn parse_all<E: From<std::num::ParseIntError>>(mut items: Vec<&str>) -> Result<Vec<u32>, E> {
    items.sort();
    let mut out = Vec::new();
    for item in items {
        out.push(item.parse::<u32>()?);
    }
    Ok(out)
}

#[profiled]
fn shown(n: u32) -> Result<impl Display, Box<dyn std::error::Error>> {
    let text: String = format!("{n}").parse()?;
    Ok(text)
}

#[profiled]
fn fmt_result(f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
    f.write_str("x")
}

#[profiled]
fn unfinished_result() -> Result<u32, std::io::Error> {
    todo!()
}

/// A future whose output the signature names is followed to its end.
#[profiled]
fn future_result(n: u32) -> impl Future<Output = Result<u32, std::io::Error>> {
    async move { Ok(n) }
}

#[profiled]
fn boxed_result<'a>(n: &'a u32) -> Pin<Box<dyn Future<Output = anyhow::Result<u32>> + Send + 'a>> {
    Box::pin(async move {
        let __ret: anyhow::Result<u32> = { Ok(*n) };
        __ret
    })
}

async fn spans() -> u32 {
    let a = fmd::span!("sum", { plain(1) + plain(2) });
    let b = fmd::span!("fetch", async { generic_async(3).await.len() as u32 }).await;
    let c = fmd::span!("awaits inside", {
        let x = returns_future(2).await;
        x + 1
    });
    a + b + c
}

fn main() {
    let _ = (plain(1), generic(&"x").to_string());
    let mut repo = Repo;
    let _ = (repo.get(1), repo.boxed(3));
    let _ = repo.fetch(2);
    let _ = (load(1), spans());
    let mut names = Names(Vec::new());
    let _ = (names.push("a"), names.first().map(str::len));
    let _ = (longest("a", "bc"), parse_all::<std::num::ParseIntError>(vec!["1"]));
    let _ = (shown(1).map(|s| s.to_string()), future_result(1), boxed_result(&1));
    let _ = fmt_result;
    if false {
        let _ = (unfinished(), unfinished_result());
    }
}
