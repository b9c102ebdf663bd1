//! Pruning old data and deleting an endpoint's data, on every backend: requests go with their
//! outliers, profiles and exception occurrences, and no exception row is left orphaned.

mod common;

use fmd_store::Filter;
use std::time::Duration;

use fmd_core::events::LogEvent;
use fmd_core::exception::CapturedError;
use fmd_core::profile::{OutlierDetail, RequestDetail, Span, ROOT};
use fmd_core::{EndpointMeta, Function, RequestRecord, Sink};

use common::*;

static STEP: Function = Function::new(EndpointMeta {
    name: "step",
    module_path: "tests::prune",
    function: "step",
    file: "tests/prune.rs",
    line: 1,
    source: "fn step() {}",
    source_sha256: "00000000000000000000000000000000000000000000000000000000000000b1",
});

#[derive(Debug)]
struct Oops(u32);
impl std::fmt::Display for Oops {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "oops {}", self.0)
    }
}
impl std::error::Error for Oops {}

#[inline(never)]
fn oops(n: u32) -> CapturedError {
    CapturedError::from_error(&Oops(n), "Oops", file!(), line!())
}

fn everything(
    endpoint: &'static fmd_core::Endpoint,
    time: i64,
    exception: CapturedError,
) -> RequestRecord {
    let mut r = record(endpoint, time, 9_000, 500);
    r.detail = Some(Box::new(RequestDetail {
        profiled: true,
        spans: vec![Span {
            function: &STEP,
            parent: ROOT,
            start_ns: 0,
            duration_ns: 1_000,
            cancelled: false,
        }],
        dropped_spans: 0,
        outlier: Some(OutlierDetail::default()),
        exceptions: vec![exception],
        events: vec![LogEvent {
            time_us: time,
            level: "WARN",
            target: "app".into(),
            message: "slow".into(),
            fields: Vec::new(),
        }],
    }));
    r
}

#[test]
fn pruning_and_endpoint_deletion_leave_no_orphans() {
    for db in databases() {
        let store = db.open();
        let synced = store.sync_endpoints(&[&HOME, &OTHER], 3, "1").unwrap();
        let mut sink = store
            .sink("1", "test", &synced, 3, Duration::from_secs(1))
            .unwrap();
        let day = 86_400_000_000i64;
        let now = 100 * day;
        // Two old requests (one of them in a group that only old requests have), three new.
        let mut errors: Vec<CapturedError> = [1, 2, 3, 4].into_iter().map(oops).collect();
        let old_only = CapturedError::from_error(&Oops(9), "OldOnly", file!(), line!());
        let batch = vec![
            everything(&HOME, now - 40 * day, old_only),
            everything(&HOME, now - 31 * day, errors.remove(0)),
            everything(&HOME, now - day, errors.remove(0)),
            record(&HOME, now, 1_000, 200),
            everything(&OTHER, now - 50 * day, errors.remove(0)),
            everything(&OTHER, now, errors.remove(0)),
        ];
        sink.write(&batch, &[])
            .unwrap_or_else(|e| panic!("{db}: {e}"));
        assert_eq!(db.rows("exception_type"), 2, "{db}");

        assert_eq!(store.prune(now - 30 * day).unwrap(), 3, "{db}");
        assert_eq!(db.rows("request"), 3, "{db}");
        for table in [
            "outlier",
            "profile",
            "profile_span",
            "request_event",
            "exception_occurrence",
        ] {
            assert_eq!(db.rows(table), 2, "{db}: {table}");
        }
        assert_eq!(db.rows("exception_type"), 1, "{db}: the old-only type went");
        assert_eq!(db.rows("exception_message"), 2, "{db}");
        let orphans = [
            "SELECT COUNT(*) AS n FROM {p}stack_trace_snapshot WHERE id NOT IN (SELECT stack_trace_snapshot_id FROM {p}exception_occurrence)",
            "SELECT COUNT(*) AS n FROM {p}exception_stack_line WHERE stack_trace_snapshot_id NOT IN (SELECT id FROM {p}stack_trace_snapshot)",
            "SELECT COUNT(*) AS n FROM {p}exception_frame WHERE id NOT IN (SELECT exception_frame_id FROM {p}exception_stack_line)",
        ];
        for sql in orphans {
            assert_eq!(db.count(&sql.replace("{p}", &db.prefix)), 0, "{db}: {sql}");
        }

        let home = synced[0].1;
        assert_eq!(store.delete_endpoint_data(home).unwrap(), 2, "{db}");
        assert_eq!(
            store.request_count(&Filter::endpoint(home)).unwrap(),
            0,
            "{db}"
        );
        assert_eq!(
            db.rows("request"),
            1,
            "{db}: the other endpoint's request stays"
        );
        assert_eq!(db.rows("exception_occurrence"), 1, "{db}");
        assert_eq!(db.rows("request_event"), 1, "{db}");
        assert!(
            store.endpoint(home).unwrap().is_some(),
            "{db}: the endpoint stays"
        );
    }
}
