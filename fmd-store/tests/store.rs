//! Migrations and the dashboard's queries on a real SQLite file.

mod common;

use std::time::Duration;

use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};
use fmd_core::Sink;
use fmd_store::Store;

use common::*;

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

#[test]
fn migrations_are_idempotent_and_prefix_every_table_and_index() {
    let (dir, url) = temp_db();
    Store::open(&url, "mon_").unwrap();
    Store::open(&url, "mon_").unwrap();
    let mut conn =
        SqliteConnection::establish(dir.path().join("fmd.db").to_str().unwrap()).unwrap();
    let names: Vec<String> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'index') AND name NOT LIKE 'sqlite_%'",
    )
    .load::<Name>(&mut conn)
    .unwrap()
    .into_iter()
    .map(|n| n.name)
    .collect();
    assert!(names.len() > 15, "{names:?}");
    for name in &names {
        assert!(name.starts_with("mon_"), "{name} lacks the prefix");
    }
    for table in [
        "mon_request",
        "mon_endpoint",
        "mon_exception_occurrence",
        "mon_custom_graph",
        "mon_dashboard_user",
    ] {
        assert!(names.iter().any(|n| n == table), "{table} missing");
    }
    assert!(names.iter().any(|n| n == "mon_request_endpoint_time"));
}

#[test]
fn two_prefixes_share_one_database() {
    let (_dir, url) = temp_db();
    let a = Store::open(&url, "a_").unwrap();
    let b = Store::open(&url, "b_").unwrap();
    a.sync_endpoints(&[&HOME], 2, "1").unwrap();
    assert_eq!(a.endpoints().unwrap().len(), 1);
    assert!(b.endpoints().unwrap().is_empty());
}

#[test]
fn endpoints_keep_their_stored_level() {
    let (_dir, url) = temp_db();
    let store = Store::open(&url, "fmd_").unwrap();
    let synced = store.sync_endpoints(&[&HOME], 1, "1.0").unwrap();
    assert_eq!(synced[0].2, 1);
    assert!(store.set_level(synced[0].1, 3).unwrap());
    // A later start with another default keeps the stored level.
    let again = store.sync_endpoints(&[&HOME], 0, "2.0").unwrap();
    assert_eq!((again[0].1, again[0].2), (synced[0].1, 3));
    assert!(!store.set_level(9999, 2).unwrap());
    let row = store.endpoint(synced[0].1).unwrap().unwrap();
    assert_eq!(row.version_added, "1.0");
    assert_eq!(row.name, "home");
}

#[test]
fn overview_counts_and_exact_medians() {
    let (_dir, url) = temp_db();
    let store = Store::open(&url, "fmd_").unwrap();
    let synced = store.sync_endpoints(&[&HOME, &OTHER], 1, "1").unwrap();
    let mut sink = store.sink("1", &synced, 1, Duration::from_secs(1)).unwrap();
    let day = 86_400_000_000i64;
    let now = 100 * day;
    // Today: 10, 20, 30, 40 ms (median 25); last week: one 1000 ms; older: two 5 ms.
    let records = vec![
        record(&HOME, now, 10_000, 200),
        record(&HOME, now + 1, 20_000, 404),
        record(&HOME, now + 2, 30_000, 200),
        record(&HOME, now + 3, 40_000, 500),
        record(&HOME, now - 3 * day, 1_000_000, 200),
        record(&HOME, now - 30 * day, 5_000, 503),
        record(&HOME, now - 31 * day, 5_000, 200),
    ];
    sink.write(&records, &[]).unwrap();
    let rows = store.overview(now - day / 2, now - 7 * day).unwrap();
    let home = rows.iter().find(|r| r.endpoint.name == "home").unwrap();
    assert_eq!(
        (home.hits_today, home.hits_week, home.hits_overall),
        (4, 5, 7)
    );
    assert_eq!(
        (home.errors_today, home.errors_week, home.errors_overall),
        (2, 2, 3)
    );
    assert_eq!(home.median_today_ms, Some(25.0));
    assert_eq!(home.median_week_ms, Some(30.0));
    assert_eq!(home.median_overall_ms, Some(20.0));
    let one = store
        .overview_of(synced[0].1, now - day / 2, now - 7 * day)
        .unwrap()
        .unwrap();
    assert_eq!((one.hits_overall, one.median_week_ms), (7, Some(30.0)));
    assert!(store.overview_of(9999, 0, 0).unwrap().is_none());
    let other = rows.iter().find(|r| r.endpoint.name == "other").unwrap();
    assert_eq!((other.hits_overall, other.median_overall_ms), (0, None));
    let page = store.requests(synced[0].1, 1, 2).unwrap();
    assert_eq!(page.len(), 2);
    assert_eq!(
        page[0].time_requested,
        now + 2,
        "newest first, after the offset"
    );
    assert_eq!(page[0].group_by.as_deref(), Some("(User,3)"));
    assert_eq!(store.request_count(synced[0].1).unwrap(), 7);
}

#[test]
fn last_requested_only_moves_forward() {
    let (_dir, url) = temp_db();
    let store = Store::open(&url, "fmd_").unwrap();
    let synced = store.sync_endpoints(&[&HOME], 0, "1").unwrap();
    let mut sink = store.sink("1", &synced, 0, Duration::from_secs(1)).unwrap();
    sink.write(&[], &[(&HOME, 2_000)]).unwrap();
    sink.write(&[], &[(&HOME, 1_000)]).unwrap();
    assert_eq!(
        store.endpoint(synced[0].1).unwrap().unwrap().last_requested,
        Some(2_000_000_000)
    );
}

#[test]
fn settings_keep_the_first_value() {
    let (_dir, url) = temp_db();
    let store = Store::open(&url, "fmd_").unwrap();
    assert_eq!(store.setting_or_insert("k", "first").unwrap(), "first");
    assert_eq!(store.setting_or_insert("k", "second").unwrap(), "first");
}

#[test]
fn bad_urls_say_what_to_use() {
    let err = Store::open("mysql://localhost/x", "fmd_")
        .unwrap_err()
        .to_string();
    assert!(err.contains("sqlite://"), "{err}");
    let err = Store::open("sqlite:///no/such/folder/fmd.db", "fmd_")
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not exist"), "{err}");
    let err = Store::open("sqlite::memory:", "fmd_")
        .unwrap_err()
        .to_string();
    assert!(err.contains("file path"), "{err}");
}
