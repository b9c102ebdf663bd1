//! Exceptions in the database, on every backend: grouping (repeats, volatile messages,
//! different sites), deduplication of every table, deletion leaving no orphans.

mod common;

use fmd_store::Filter;
use std::time::Duration;

use fmd_core::exception::CapturedError;
use fmd_core::profile::RequestDetail;
use fmd_core::{RequestRecord, Sink};
use fmd_store::Store;

use common::*;

#[derive(Debug)]
struct NotFound(String);

impl std::fmt::Display for NotFound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} not found", self.0)
    }
}

impl std::error::Error for NotFound {}

/// The same capture site for every call: one stack.
#[inline(never)]
fn capture_here(what: &str) -> CapturedError {
    CapturedError::from_error(&NotFound(what.into()), "NotFound", file!(), line!())
}

#[inline(never)]
fn capture_elsewhere(what: &str) -> CapturedError {
    CapturedError::from_error(&NotFound(what.into()), "NotFound", file!(), line!())
}

fn with_exceptions(time: i64, exceptions: Vec<CapturedError>) -> RequestRecord {
    let mut r = record(&HOME, time, 1_000, 200);
    r.detail = Some(Box::new(RequestDetail {
        exceptions,
        ..RequestDetail::default()
    }));
    r
}

const TABLES: [&str; 6] = [
    "exception_type",
    "exception_message",
    "stack_trace_snapshot",
    "exception_frame",
    "exception_stack_line",
    "exception_occurrence",
];

fn counts(db: &TestDb) -> Vec<i64> {
    TABLES.iter().map(|t| db.rows(t)).collect()
}

#[test]
fn exceptions_group_deduplicate_and_delete_cleanly() {
    for db in databases() {
        let store: Store = db.open();
        let synced = store.sync_endpoints(&[&HOME], 1, "1").unwrap();
        let id = synced[0].1;
        let mut sink = store
            .sink("1", "test", &synced, 1, Duration::from_secs(1))
            .unwrap();

        // Captured from one call site: one stack.
        let mut same_site: Vec<CapturedError> = ["user 17", "user 17", "user 4242"]
            .into_iter()
            .map(capture_here)
            .collect();
        let mut next = || same_site.remove(0);
        sink.write(&[with_exceptions(1, vec![next()])], &[])
            .unwrap_or_else(|e| panic!("{db}: {e}"));
        let first = counts(&db);
        assert_eq!(first[0..3], [1, 1, 1], "{db}: one type, message, snapshot");
        assert!(
            first[3] > 0 && first[3] == first[4],
            "{db}: frames and lines {first:?}"
        );

        // The same error again: one more occurrence row and nothing else.
        sink.write(&[with_exceptions(2, vec![next()])], &[])
            .unwrap();
        let again = counts(&db);
        assert_eq!(again[..5], first[..5], "{db}");
        assert_eq!(again[5], 2, "{db}");

        // Another id in the message: the same group, one more message.
        sink.write(&[with_exceptions(3, vec![next()])], &[])
            .unwrap();
        assert_eq!(db.rows("stack_trace_snapshot"), 1, "{db}");
        assert_eq!(db.rows("exception_message"), 2, "{db}");

        // Another site: another group. Two in one request are both kept.
        sink.write(
            &[with_exceptions(
                4,
                ["user 1", "user 2"]
                    .into_iter()
                    .map(capture_elsewhere)
                    .collect(),
            )],
            &[],
        )
        .unwrap();
        assert_eq!(db.rows("stack_trace_snapshot"), 2, "{db}");

        let groups = store.exception_groups(Some(id), 0, 10).unwrap();
        assert_eq!(groups.len(), 2, "{db}");
        assert_eq!(store.exception_group_count(None).unwrap(), 2, "{db}");
        // Occurrences carry the time they were captured: last seen first.
        let newest = &groups[0];
        assert_eq!(newest.count, 2, "{db}");
        let older = &groups[1];
        assert_eq!(older.count, 3, "{db}");
        assert!(older.first_seen < older.last_seen, "{db}");
        assert!(older.last_seen <= newest.last_seen, "{db}");
        assert_eq!(older.type_name, "NotFound", "{db}");
        assert_eq!(
            older.message, "user 4242 not found",
            "{db}: the latest message"
        );
        assert_eq!(older.user_captured, 1, "{db}");

        let (messages, frames) = store.group_details(&[older.group_id]).unwrap();
        let messages: Vec<(&str, i64)> = messages
            .iter()
            .map(|m| (m.message.as_str(), m.count))
            .collect();
        assert_eq!(
            messages,
            [("user 17 not found", 2), ("user 4242 not found", 1)],
            "{db}"
        );
        assert!(
            frames[0].function.contains("capture_here"),
            "{db}: innermost frame first: {:?}",
            frames[0]
        );
        assert!(!frames[0].library(), "{db}");
        assert_eq!(
            frames[0].relative_file, frames[0].file,
            "{db}: no registered frame gives the root"
        );
        assert!(
            frames.iter().any(|f| f.library()),
            "{db}: std and test harness frames"
        );

        // Activity per day: every occurrence happened in the last day.
        let now = fmd_core::now_micros() + 1_000_000;
        let activity = store
            .group_activity(&[older.group_id, newest.group_id], now, 3)
            .unwrap();
        assert_eq!(activity[0], (older.group_id, vec![0, 0, 3]), "{db}");
        assert_eq!(activity[1], (newest.group_id, vec![0, 0, 2]), "{db}");

        // The overview counts groups.
        let overview = store.overview(0, 0, None).unwrap();
        assert_eq!(overview[0].exception_groups, 2, "{db}");

        // Deleting a group leaves no row that only it used.
        assert!(
            store.delete_exception_group(older.group_id).unwrap(),
            "{db}"
        );
        assert!(
            !store.delete_exception_group(older.group_id).unwrap(),
            "{db}"
        );
        assert_eq!(db.rows("exception_occurrence"), 2, "{db}");
        assert_eq!(db.rows("stack_trace_snapshot"), 1, "{db}");
        assert_eq!(db.rows("exception_message"), 2, "{db}: user 1 and user 2");
        let orphans = [
            "SELECT COUNT(*) AS n FROM {p}exception_stack_line WHERE stack_trace_snapshot_id NOT IN (SELECT id FROM {p}stack_trace_snapshot)",
            "SELECT COUNT(*) AS n FROM {p}exception_frame WHERE id NOT IN (SELECT exception_frame_id FROM {p}exception_stack_line)",
        ];
        for sql in orphans {
            assert_eq!(db.count(&sql.replace("{p}", &db.prefix)), 0, "{db}: {sql}");
        }
        store.delete_exception_group(newest.group_id).unwrap();
        assert_eq!(counts(&db), [0, 0, 0, 0, 0, 0], "{db}");
        assert_eq!(
            store.request_count(&Filter::endpoint(id)).unwrap(),
            4,
            "{db}: requests stay"
        );
    }
}

#[test]
fn without_debug_info_the_capture_site_is_the_frame() {
    for db in databases() {
        let store: Store = db.open();
        let synced = store.sync_endpoints(&[&HOME], 1, "1").unwrap();
        let mut sink = store
            .sink("1", "test", &synced, 1, Duration::from_secs(1))
            .unwrap();
        // What a binary without debug info resolves to: no frame with a file.
        let mut e = CapturedError::from_error(&NotFound("x".into()), "NotFound", "src/api.rs", 42);
        e.stack = fmd_core::exception::Stack::Backtrace(Vec::new());
        sink.write(&[with_exceptions(1, vec![e])], &[])
            .unwrap_or_else(|err| panic!("{db}: {err}"));
        let groups = store.exception_groups(None, 0, 10).unwrap();
        let (_, frames) = store.group_details(&[groups[0].group_id]).unwrap();
        assert_eq!(frames.len(), 1, "{db}");
        assert_eq!(
            (
                frames[0].function.as_str(),
                frames[0].file.as_str(),
                frames[0].line
            ),
            ("(capture site)", "src/api.rs", 42),
            "{db}"
        );
    }
}
