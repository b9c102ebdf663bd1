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
    if false {
        let _ = unfinished();
    }
}
