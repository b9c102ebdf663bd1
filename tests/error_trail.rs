//! Error return traces below the web layer: monitored functions called directly record through
//! the default recorder (whose queue this test reads), and an `Err` they return is an exception
//! with every annotated function it was returned through, innermost first.

mod common;

use std::time::Duration;

use common::recorder::{endpoint, Harness};
use fmd::{monitored, profiled};
use fmd_core::exception::{CapturedError, Origin, Stack};

/// The default recorder with `endpoints` at level 1.
fn harness(endpoints: &[&str]) -> Harness {
    let h = Harness::new();
    for name in endpoints {
        endpoint(name).set_level(1);
    }
    h
}

/// The next record's status and exceptions.
fn next_exceptions(h: &Harness) -> (u16, Vec<CapturedError>) {
    let record = h.next();
    let exceptions = record.detail.map(|d| d.exceptions).unwrap_or_default();
    (record.status_code, exceptions)
}

/// The names of the functions in an exception's trail, innermost first.
fn trail(e: &CapturedError) -> Vec<&'static str> {
    match &e.stack {
        Stack::Functions(list) => list.iter().map(|(m, _)| m.function).collect(),
        Stack::Backtrace(_) => panic!("a returned error has no backtrace"),
    }
}

#[derive(Debug)]
struct StoreError(std::io::Error);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the store failed")
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.0)
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError(e)
    }
}

/// Innermost: a plain function returning `io::Result`.
#[profiled]
fn read_row(id: u32) -> std::io::Result<String> {
    if id >= 13 {
        return Err(std::io::Error::other(format!("row {id} is corrupt")));
    }
    Ok(format!("row {id}"))
}

/// Converts with `?` across an await.
#[profiled]
async fn load(id: u32) -> Result<String, StoreError> {
    tokio::task::yield_now().await;
    let row = read_row(id)?;
    tokio::task::yield_now().await;
    Ok(row)
}

/// Into `anyhow`, which keeps the chain.
#[profiled]
async fn render(id: u32) -> anyhow::Result<String> {
    let row = load(id).await?;
    Ok(format!("<p>{row}</p>"))
}

#[monitored]
async fn job(id: u32) -> anyhow::Result<String> {
    let page = render(id).await?;
    Ok(page)
}

#[test]
fn an_error_returned_through_three_profiled_functions_keeps_its_trail() {
    let h = harness(&["job"]);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .build()
        .unwrap();
    assert!(runtime.block_on(job(13)).is_err());
    let (status, exceptions) = next_exceptions(&h);
    assert_eq!(status, 500, "a monitored function's `Err` is a failed call");
    assert_eq!(exceptions.len(), 1, "{exceptions:?}");
    let e = &exceptions[0];
    assert_eq!(e.origin, Origin::Returned);
    assert_eq!(trail(e), ["read_row", "load", "render", "job"]);
    assert_eq!(e.type_name, "anyhow::Error", "the outermost error");
    assert_eq!(e.message, "the store failed");
    assert_eq!(e.chain, ["row 13 is corrupt"], "its source chain");

    // The same calls on a spawned task of a multi-threaded runtime, and succeeding: no exception.
    assert!(runtime
        .block_on(async { tokio::spawn(job(1)).await.unwrap() })
        .is_ok());
    let (status, exceptions) = next_exceptions(&h);
    assert_eq!((status, exceptions.len()), (200, 0));
}

/// Handles the error of the function it calls.
#[profiled]
async fn cached(id: u32) -> Result<String, StoreError> {
    match load(id).await {
        Ok(row) => Ok(row),
        Err(_) => Ok("cached row".into()),
    }
}

/// A different error after a handled one.
#[profiled]
fn check(page: &str) -> Result<(), std::fmt::Error> {
    if page == "cached row" {
        return Err(std::fmt::Error);
    }
    Ok(())
}

#[monitored]
async fn handled(id: u32, fail_after: bool) -> Result<String, Box<dyn std::error::Error>> {
    let page = cached(id).await?;
    if fail_after {
        check(&page)?;
    }
    Ok(page)
}

#[test]
fn a_handled_error_is_not_recorded_and_does_not_join_a_later_one() {
    let h = harness(&["handled"]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(handled(13, false)).unwrap(), "cached row");
    let (status, exceptions) = next_exceptions(&h);
    assert_eq!((status, exceptions.len()), (200, 0), "{exceptions:?}");

    assert!(runtime.block_on(handled(13, true)).is_err());
    let (status, exceptions) = next_exceptions(&h);
    assert_eq!(status, 500);
    assert_eq!(exceptions.len(), 1, "{exceptions:?}");
    let e = &exceptions[0];
    assert_eq!(trail(e), ["check", "handled"], "the handled error is gone");
    assert!(
        e.type_name.starts_with("alloc::boxed::Box<dyn"),
        "{}",
        e.type_name
    );
    assert_eq!(e.message, std::fmt::Error.to_string());
}

/// Fails, and its caller carries on without it.
#[profiled]
fn optional(id: u32) -> Result<u32, std::num::ParseIntError> {
    format!("x{id}").parse()
}

/// Fails, and its caller gives up.
#[profiled]
fn required(id: u32) -> Result<u32, std::num::ParseIntError> {
    format!("y{id}").parse()
}

/// A sibling's handled error is not part of the next sibling's trail; a generic error type.
#[profiled]
fn both<E: std::error::Error + From<std::num::ParseIntError>>(id: u32) -> Result<u32, E> {
    let a = optional(id).unwrap_or(0);
    let b = required(id)?;
    Ok(a + b)
}

#[monitored]
fn sync_job(id: u32) -> Result<u32, std::num::ParseIntError> {
    both::<std::num::ParseIntError>(id)
}

/// Not a `Result`: returning a value handles the error below.
#[profiled]
fn total(id: u32) -> u32 {
    optional(id).unwrap_or(7)
}

#[monitored]
fn recovers(id: u32) -> Result<u32, std::num::ParseIntError> {
    let t = total(id);
    Ok(t)
}

#[test]
fn plain_functions_siblings_and_generics() {
    let h = harness(&["sync_job", "recovers"]);
    assert!(sync_job(4).is_err());
    let (status, exceptions) = next_exceptions(&h);
    assert_eq!(status, 500);
    assert_eq!(trail(&exceptions[0]), ["required", "both", "sync_job"]);
    assert_eq!(exceptions[0].type_name, "core::num::error::ParseIntError");

    assert_eq!(recovers(4).unwrap(), 7);
    let (status, exceptions) = next_exceptions(&h);
    assert_eq!((status, exceptions.len()), (200, 0), "{exceptions:?}");
}

#[monitored]
async fn rejects() -> Result<(), String> {
    Err("not an Error".into())
}

#[test]
fn an_err_that_is_no_error_is_not_recorded_and_level_0_records_nothing() {
    let h = harness(&["rejects", "job"]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert!(runtime.block_on(rejects()).is_err());
    let (_, exceptions) = next_exceptions(&h);
    assert!(exceptions.is_empty(), "{exceptions:?}");

    endpoint("job").set_level(0);
    assert!(runtime.block_on(job(13)).is_err());
    assert!(
        h.rx.recv_timeout(Duration::from_millis(200)).is_err(),
        "nothing is recorded at level 0"
    );
    // Outside any monitored call, nothing is pending afterwards either.
    assert!(runtime.block_on(render(13)).is_err());
    assert!(fmd_core::trail::pending_functions().is_empty());
}

/// Drops the error's source on the way out.
#[monitored]
fn opaque(id: u32) -> Result<String, std::fmt::Error> {
    read_row(id).map_err(|_| std::fmt::Error)
}

#[test]
fn an_error_that_drops_its_source_keeps_the_innermost_message() {
    let h = harness(&["opaque"]);
    assert!(opaque(20).is_err());
    let (_, exceptions) = next_exceptions(&h);
    let e = &exceptions[0];
    assert_eq!(trail(e), ["read_row", "opaque"]);
    assert_eq!(e.type_name, "core::fmt::Error");
    assert_eq!(e.chain, ["row 20 is corrupt"], "the root cause is kept");
}
