//! Levels 2 and 3 in the database, on every backend: span trees and outliers written by the
//! sink and read back as the dashboard reads them, function sources, and seeded means.

mod common;

use fmd_store::Filter;
use std::time::Duration;

use fmd_core::events::LogEvent;
use fmd_core::outlier::{Stuck, StuckFrame, SystemFigures};
use fmd_core::profile::{OutlierDetail, RequestDetail, Span, ROOT};
use fmd_core::{EndpointMeta, Function, Sink};

use common::*;

static LOAD: Function = Function::new(EndpointMeta {
    name: "load",
    module_path: "tests::db",
    function: "load",
    file: "tests/db.rs",
    line: 10,
    source: "fn load() { query() }",
    source_sha256: "00000000000000000000000000000000000000000000000000000000000000a1",
});

static QUERY: Function = Function::new(EndpointMeta {
    name: "query",
    module_path: "tests::db",
    function: "query",
    file: "tests/db.rs",
    line: 20,
    source: "fn query() { /* it's \"quoted\" */ }",
    source_sha256: "00000000000000000000000000000000000000000000000000000000000000a2",
});

fn span(function: &'static Function, parent: u32, start_us: u64, duration_us: u64) -> Span {
    Span {
        function,
        parent,
        start_ns: start_us * 1_000,
        duration_ns: duration_us * 1_000,
        cancelled: false,
    }
}

fn profiled(time: i64, duration_us: u64, outlier: bool) -> fmd_core::RequestRecord {
    let mut r = record(&HOME, time, duration_us, 200);
    r.detail = Some(Box::new(RequestDetail {
        profiled: true,
        exceptions: Vec::new(),
        spans: vec![
            span(&LOAD, ROOT, 10, duration_us / 2),
            span(&QUERY, 0, 20, duration_us / 4),
            span(&QUERY, 0, 20 + duration_us / 4, duration_us / 8),
        ],
        dropped_spans: 0,
        events: if outlier { events() } else { Vec::new() },
        outlier: outlier.then(|| OutlierDetail {
            method: "GET".into(),
            url: "/home?q='x'".into(),
            headers: vec![("authorization".into(), "[scrubbed]".into())],
            stuck: Some(Stuck {
                after_us: 2_500,
                frames: vec![
                    StuckFrame {
                        function: &LOAD,
                        depth: 0,
                        running_us: 2_490,
                    },
                    StuckFrame {
                        function: &QUERY,
                        depth: 1,
                        running_us: 1_000,
                    },
                ],
                figures: SystemFigures {
                    cpu_percent: vec![12.5, 80.0],
                    memory_bytes: 42 << 20,
                    system_memory_bytes: 4 << 30,
                },
            }),
        }),
    }));
    r
}

/// What the `tracing` layer keeps: a warning with a long target and quoted text, an error.
fn events() -> Vec<LogEvent> {
    vec![
        LogEvent {
            time_us: 4_100,
            level: "WARN",
            target: "app::cache".repeat(40),
            message: "slow 'cache' \"hit\"".into(),
            fields: vec![
                ("key".into(), "[scrubbed]".into()),
                ("ms".into(), "310".into()),
            ],
        },
        LogEvent {
            time_us: 4_200,
            level: "ERROR",
            target: "app".into(),
            message: "gave up".into(),
            fields: Vec::new(),
        },
    ]
}

#[test]
fn span_trees_and_outliers_round_trip() {
    for db in databases() {
        let store = db.open();
        let synced = store.sync_endpoints(&[&HOME], 3, "1").unwrap();
        let id = synced[0].1;
        let mut sink = store
            .sink("1", "test", &synced, 3, Duration::from_secs(1))
            .unwrap();
        // Plain rows around the detailed ones: both kinds in one batch.
        let batch = vec![
            record(&HOME, 1_000, 100, 200),
            profiled(2_000, 4_000, false),
            record(&HOME, 3_000, 100, 200),
            profiled(4_000, 8_000, true),
        ];
        sink.write(&batch, &[])
            .unwrap_or_else(|e| panic!("{db}: {e}"));
        assert_eq!(
            store.request_count(&Filter::endpoint(id)).unwrap(),
            4,
            "{db}"
        );

        let profiles = store.profiles(id, 0, 10).unwrap();
        assert_eq!(profiles.len(), 2, "{db}");
        let newest = &profiles[0];
        assert_eq!(newest.duration_us, 8_000, "{db}: newest first");
        let shape: Vec<(&str, Option<i32>, i32)> = newest
            .spans
            .iter()
            .map(|s| (s.function.as_str(), s.parent_position, s.depth))
            .collect();
        assert_eq!(
            shape,
            [
                ("tests::db::load", None, 0),
                ("tests::db::query", Some(0), 1),
                ("tests::db::query", Some(0), 1)
            ],
            "{db}"
        );
        assert_eq!(newest.spans[1].duration_us, 2_000, "{db}");
        assert_eq!(store.profile_count(id).unwrap(), 2, "{db}");

        let outliers = store.outliers(id, 0, 10).unwrap();
        assert_eq!(outliers.len(), 1, "{db}");
        let o = &outliers[0];
        assert_eq!(
            (o.duration_us, o.url.as_str()),
            (8_000, "/home?q='x'"),
            "{db}"
        );
        assert_eq!(
            o.headers,
            [("authorization".into(), "[scrubbed]".into())],
            "{db}"
        );
        assert_eq!(o.cpu_percent, [12.5, 80.0], "{db}");
        assert_eq!(o.memory_bytes, 42 << 20, "{db}");
        assert_eq!(o.stack.after_ms, Some(2.5), "{db}");
        let frames: Vec<(&str, u32)> = o
            .stack
            .frames
            .iter()
            .map(|f| (f.function.as_str(), f.depth))
            .collect();
        assert_eq!(
            frames,
            [("tests::db::load", 0), ("tests::db::query", 1)],
            "{db}"
        );
        assert_eq!(store.outlier_count(id).unwrap(), 1, "{db}");

        // The outlier's log events; none of the request that was no outlier.
        let stored = store.events_of(&[o.request_id, o.request_id - 2]).unwrap();
        let expected: Vec<fmd_store::EventRow> = events()
            .into_iter()
            .map(|e| fmd_store::EventRow {
                request_id: o.request_id,
                time: e.time_us,
                level: e.level.into(),
                target: e.target.chars().take(255).collect(),
                message: e.message,
                fields: e.fields,
            })
            .collect();
        assert_eq!(
            stored, expected,
            "{db}: a long target cut to 255 characters"
        );

        // The functions' sources, by the ids the spans and frames carry.
        let source = store
            .function_source(o.stack.frames[1].function_id)
            .unwrap()
            .unwrap_or_else(|| panic!("{db}: the frame's function is stored"));
        assert_eq!(source.code, QUERY.meta.source, "{db}");
        assert_eq!(
            (source.file.as_str(), source.start_line),
            ("tests/db.rs", 20),
            "{db}"
        );
        assert_eq!(
            newest.spans[1].function_id, o.stack.frames[1].function_id,
            "{db}"
        );
        assert!(store.function_source(987_654).unwrap().is_none(), "{db}");

        // Two requests merged: 2 + 4 ms of load, query called twice per request.
        let (grouped, merged) = store.grouped_profile(id, "home", 100).unwrap();
        assert_eq!(merged, 2, "{db}");
        let load = grouped
            .iter()
            .find(|g| g.path == ["home", "tests::db::load"])
            .unwrap();
        assert_eq!((load.hits, load.total), (2, 6.0), "{db}");
        assert!((load.time_share - 0.5).abs() < 1e-9, "{db}");
        let query = grouped
            .iter()
            .find(|g| g.path == ["home", "tests::db::load", "tests::db::query"])
            .unwrap();
        assert_eq!((query.hits, query.hits_share), (4, 2.0), "{db}");

        // The running mean starts from the stored requests.
        store.seed_means(&synced).unwrap();
        assert_eq!(HOME.mean(), (4, 3_050.0), "{db}");
    }
}
