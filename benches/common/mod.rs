//! What the benchmarks share: the databases to run on, and polling handlers by hand.
#![allow(dead_code)]

/// A SQLite file in `dir`, and PostgreSQL and MySQL when this build has them, at
/// `FMD_TEST_POSTGRES` / `FMD_TEST_MYSQL` or this machine's servers. `FMD_BENCH_BACKENDS`
/// (e.g. `postgres,mysql`) keeps only those named.
pub(crate) fn targets(dir: &std::path::Path) -> Vec<(&'static str, String)> {
    let wanted = std::env::var("FMD_BENCH_BACKENDS").unwrap_or_default();
    let mut all = vec![(
        "sqlite",
        format!("sqlite://{}", dir.join("fmd.db").display()),
    )];
    if cfg!(feature = "postgres") {
        let url = std::env::var("FMD_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        all.push(("postgres", url));
    }
    if cfg!(feature = "mysql") {
        let url = std::env::var("FMD_TEST_MYSQL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".into());
        all.push(("mysql", url));
    }
    all.into_iter()
        .filter(|(name, _)| wanted.is_empty() || wanted.split(',').any(|w| w == *name))
        .collect()
}

/// Opens a store for a benchmark, or says why that backend is skipped.
pub(crate) fn open(name: &str, url: &str, prefix: &str) -> Option<fmd_store::Store> {
    match fmd_store::Store::open(url, prefix) {
        Ok(store) => Some(store),
        Err(e) => {
            eprintln!("skipping {name}: {e}");
            None
        }
    }
}

/// Polls a future that never waits to completion, with a no-op waker: the numbers are then the
/// code's own cost, not an executor's.
pub(crate) fn run<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => unreachable!("the benchmarked handlers never wait"),
    }
}

/// Times `f` in chunks of at most `chunk` calls, draining the record queue between chunks
/// outside the timing, so every record finds room as in a service whose writer keeps up.
pub(crate) fn chunked(
    b: &mut criterion::Bencher<'_>,
    rx: &std::sync::mpsc::Receiver<fmd_core::WriterMsg>,
    chunk: u64,
    f: impl Fn(),
) {
    b.iter_custom(|iters| {
        let mut total = std::time::Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let n = left.min(chunk);
            let start = std::time::Instant::now();
            for _ in 0..n {
                f();
            }
            total += start.elapsed();
            while rx.try_recv().is_ok() {}
            left -= n;
        }
        total
    });
}

/// `n` endpoints named `endpoint.00`, `endpoint.01`, ..., made at run time (leaked, as the
/// registry's are static) for benchmarks that write through the sink.
pub(crate) fn made_endpoints(n: usize, file: &'static str) -> Vec<&'static fmd_core::Endpoint> {
    (0..n)
        .map(|i| {
            let name: &'static str = Box::leak(format!("endpoint.{i:02}").into_boxed_str());
            let sha: &'static str = Box::leak(format!("{i:064}").into_boxed_str());
            let e: &'static fmd_core::Endpoint =
                Box::leak(Box::new(fmd_core::Endpoint::new(fmd_core::EndpointMeta {
                    name,
                    module_path: "bench",
                    function: name,
                    file,
                    line: 1,
                    source: "",
                    source_sha256: sha,
                })));
            e
        })
        .collect()
}
