//! What the `#[monitored]` expansion does at run time, outside any web framework.

use fmd_store::Filter;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use fmd::monitored;

/// The doc comment is part of the captured source.
#[monitored(name = "timed.async_trait")]
fn async_trait_shape(ms: u64) -> Pin<Box<dyn Future<Output = u64> + Send>> {
    Box::pin(async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        ms
    })
}

#[monitored(name = "timed.impl_future")]
fn impl_future(ms: u64) -> impl Future<Output = u64> {
    async move {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        ms
    }
}

#[monitored(name = "timed.sync_panic")]
fn sync_panic() -> u32 {
    panic!("on purpose")
}

fn requests(store: &fmd_store::Store, name: &str) -> Vec<fmd_store::RequestRow> {
    let id = store
        .endpoints()
        .unwrap()
        .into_iter()
        .find(|e| e.name == name)
        .unwrap()
        .id;
    store.requests(&Filter::endpoint(id), 0, 100).unwrap()
}

#[tokio::test]
async fn futures_are_timed_to_completion_and_panics_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("fmd.db").display());
    let config = fmd::Config::default().database(&url).password("pw");
    let dashboard = fmd::Dashboard::new(config).await.unwrap();

    let future = async_trait_shape(30);
    tokio::time::sleep(Duration::from_millis(50)).await; // not counted: the future has not started
    assert_eq!(future.await, 30);
    assert_eq!(impl_future(30).await, 30);
    assert!(std::panic::catch_unwind(sync_panic).is_err());
    dashboard.flush().await.unwrap();

    let store = fmd_store::Store::open(&url, "fmd_").unwrap();
    for name in ["timed.async_trait", "timed.impl_future"] {
        let rows = requests(&store, name);
        assert_eq!(rows.len(), 1, "{name}");
        let ms = rows[0].duration_us as f64 / 1000.0;
        assert!(
            (30.0..50.0).contains(&ms),
            "{name} took {ms} ms: the future, not its construction"
        );
        assert_eq!(rows[0].status_code, 200);
    }
    let panicked = requests(&store, "timed.sync_panic");
    assert_eq!(panicked[0].status_code, 500);
    dashboard.shutdown().await.unwrap();
}

#[test]
fn the_source_is_captured_as_written() {
    let endpoint = fmd_core::registry::endpoints()
        .find(|e| e.meta.name == "timed.async_trait")
        .unwrap();
    let file = std::fs::read_to_string("tests/macros.rs").unwrap();
    let start = file
        .lines()
        .position(|l| l.starts_with("/// The doc comment"))
        .unwrap()
        + 1;
    assert_eq!(
        endpoint.meta.line as usize, start,
        "the first line of the captured text"
    );
    let expected: Vec<&str> = file.lines().skip(start - 1).take(8).collect();
    assert_eq!(endpoint.meta.source, expected.join("\n"));
    assert!(
        endpoint.meta.source.ends_with("    })\n}"),
        "through the closing brace"
    );
    assert_eq!(endpoint.meta.file, "tests/macros.rs");
    assert_eq!(endpoint.meta.function, "async_trait_shape");
    assert_eq!(endpoint.path(), "macros::async_trait_shape");
    use sha2::Digest;
    let digest = sha2::Sha256::digest(endpoint.meta.source.as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(endpoint.meta.source_sha256, hex);
}
