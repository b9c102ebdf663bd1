//! Migrations and the dashboard's queries, on every backend this build and machine can test
//! (see `common`).

mod common;

use fmd_store::Filter;
use std::time::Duration;

use fmd_core::{Endpoint, EndpointMeta, Sink};
use fmd_store::{Backend, Store};

use common::*;

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn migrations_are_idempotent_and_prefix_every_table_and_index() {
    for db in databases() {
        db.open();
        db.open();
        let tables = db.tables();
        assert!(tables.len() > 15, "{db}: {tables:?}");
        for name in tables.iter().chain(&db.indexes()) {
            assert!(
                name.starts_with(&db.prefix),
                "{db}: {name} lacks the prefix"
            );
        }
        for table in [
            "request",
            "endpoint",
            "instance",
            "exception_occurrence",
            "custom_graph",
            "dashboard_user",
            "schema_migrations",
        ] {
            let name = format!("{}{table}", db.prefix);
            assert!(tables.contains(&name), "{db}: {name} missing");
        }
        if db.backend != Backend::Mysql {
            let index = format!("{}request_endpoint_time", db.prefix);
            assert!(db.indexes().contains(&index), "{db}: {index} missing");
        }
    }
}

#[test]
fn two_prefixes_share_one_database() {
    for db in databases() {
        let other = db.sibling();
        let a = db.open();
        let b = other.open();
        a.sync_endpoints(&[&HOME], 2, "1").unwrap();
        assert_eq!(a.endpoints().unwrap().len(), 1, "{db}");
        assert!(b.endpoints().unwrap().is_empty(), "{db}");
    }
}

#[test]
fn endpoints_keep_their_stored_level() {
    for db in databases() {
        let store = db.open();
        let synced = store.sync_endpoints(&[&HOME], 1, "1.0").unwrap();
        assert_eq!(synced[0].2, 1, "{db}");
        assert!(store.set_level(synced[0].1, 3).unwrap(), "{db}");
        assert!(
            store.set_level(synced[0].1, 3).unwrap(),
            "{db}: unchanged is still found"
        );
        // A later start with another default keeps the stored level.
        let again = store.sync_endpoints(&[&HOME], 0, "2.0").unwrap();
        assert_eq!((again[0].1, again[0].2), (synced[0].1, 3), "{db}");
        assert!(!store.set_level(9999, 2).unwrap(), "{db}");
        let row = store.endpoint(synced[0].1).unwrap().unwrap();
        assert_eq!(row.version_added, "1.0", "{db}");
        assert_eq!(row.name, "home", "{db}");
    }
}

#[test]
fn overview_counts_and_exact_medians() {
    for db in databases() {
        let store = db.open();
        let synced = store.sync_endpoints(&[&HOME, &OTHER], 1, "1").unwrap();
        let mut sink = store.sink("1", "a", &synced, 1, SECOND).unwrap();
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
        let rows = store.overview(now - day / 2, now - 7 * day, None).unwrap();
        let home = rows.iter().find(|r| r.endpoint.name == "home").unwrap();
        let counts = (home.hits_today, home.hits_week, home.hits_overall);
        assert_eq!(counts, (4, 5, 7), "{db}");
        let errors = (home.errors_today, home.errors_week, home.errors_overall);
        assert_eq!(errors, (2, 2, 3), "{db}");
        assert_eq!(home.median_today_ms, Some(25.0), "{db}");
        assert_eq!(home.median_week_ms, Some(30.0), "{db}");
        assert_eq!(home.median_overall_ms, Some(20.0), "{db}");
        let one = store
            .overview_of(synced[0].1, now - day / 2, now - 7 * day, None)
            .unwrap()
            .unwrap();
        assert_eq!(
            (one.hits_overall, one.median_week_ms),
            (7, Some(30.0)),
            "{db}"
        );
        assert!(
            store.overview_of(9999, 0, 0, None).unwrap().is_none(),
            "{db}"
        );
        let other = rows.iter().find(|r| r.endpoint.name == "other").unwrap();
        assert_eq!(
            (other.hits_overall, other.median_overall_ms),
            (0, None),
            "{db}"
        );
        let page = store
            .requests(&Filter::endpoint(synced[0].1), 1, 2)
            .unwrap();
        assert_eq!(page.len(), 2, "{db}");
        assert_eq!(
            page[0].time_requested,
            now + 2,
            "{db}: newest first, after the offset"
        );
        assert_eq!(page[0].group_by.as_deref(), Some("(User,3)"), "{db}");
        assert_eq!(page[0].instance.as_deref(), Some("a"), "{db}");
        assert_eq!(
            store.request_count(&Filter::endpoint(synced[0].1)).unwrap(),
            7,
            "{db}"
        );
    }
}

#[test]
fn instances_are_listed_and_filter_every_figure() {
    for db in databases() {
        let store = db.open();
        let synced = store.sync_endpoints(&[&HOME], 1, "1").unwrap();
        let mut a = store.sink("1", "web-a", &synced, 1, SECOND).unwrap();
        let mut b = store.sink("2", "web-b", &synced, 1, SECOND).unwrap();
        a.write(
            &[record(&HOME, 10, 1_000, 200), record(&HOME, 11, 3_000, 500)],
            &[],
        )
        .unwrap();
        b.write(&[record(&HOME, 12, 9_000, 200)], &[]).unwrap();
        let instances = store.instances().unwrap();
        let names: Vec<&str> = instances.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(instances.len(), 2, "{db}: {names:?}");
        let id = |name: &str| instances.iter().find(|i| i.name == name).unwrap().id;
        let version_b = &instances
            .iter()
            .find(|i| i.name == "web-b")
            .unwrap()
            .version;
        assert_eq!(version_b, "2", "{db}");

        let all = &store.overview(0, 0, None).unwrap()[0];
        assert_eq!(
            (all.hits_overall, all.median_overall_ms),
            (3, Some(3.0)),
            "{db}"
        );
        let only_a = &store.overview(0, 0, Some(id("web-a"))).unwrap()[0];
        let a_figures = (
            only_a.hits_overall,
            only_a.errors_overall,
            only_a.median_overall_ms,
        );
        assert_eq!(a_figures, (2, 1, Some(2.0)), "{db}");
        let only_b = store
            .overview_of(synced[0].1, 0, 0, Some(id("web-b")))
            .unwrap()
            .unwrap();
        assert_eq!(
            (only_b.hits_overall, only_b.median_overall_ms),
            (1, Some(9.0)),
            "{db}"
        );
        assert_eq!(
            store
                .request_count(&Filter::endpoint(synced[0].1).on_instance(Some(id("web-a"))))
                .unwrap(),
            2,
            "{db}"
        );
        let rows = store
            .requests(
                &Filter::endpoint(synced[0].1).on_instance(Some(id("web-b"))),
                0,
                10,
            )
            .unwrap();
        assert_eq!(rows.len(), 1, "{db}");
        assert_eq!(rows[0].instance.as_deref(), Some("web-b"), "{db}");

        // A restarted instance keeps its row.
        let mut again = store.sink("3", "web-a", &synced, 1, SECOND).unwrap();
        again.write(&[record(&HOME, 13, 1_000, 200)], &[]).unwrap();
        assert_eq!(store.instances().unwrap().len(), 2, "{db}");
        assert_eq!(
            store
                .request_count(&Filter::endpoint(synced[0].1).on_instance(Some(id("web-a"))))
                .unwrap(),
            3,
            "{db}"
        );
    }
}

#[test]
fn versions_with_quotes_and_backslashes_are_stored_as_they_are() {
    let version = r"1.0'); DELETE FROM x; -- \ \' ?";
    for db in databases() {
        let store = db.open();
        let synced = store.sync_endpoints(&[&HOME], 1, version).unwrap();
        let mut sink = store.sink(version, "a", &synced, 1, SECOND).unwrap();
        sink.write(&[record(&HOME, 1, 1, 200), record(&HOME, 2, 1, 200)], &[])
            .unwrap();
        let rows = store
            .requests(&Filter::endpoint(synced[0].1), 0, 10)
            .unwrap();
        assert_eq!(rows.len(), 2, "{db}");
        assert!(
            rows.iter().all(|r| r.version_requested == version),
            "{db}: {rows:?}"
        );
        assert_eq!(store.instances().unwrap()[0].version, version, "{db}");
    }
}

static POLLED: Endpoint = Endpoint::new(EndpointMeta {
    name: "polled",
    module_path: "tests",
    function: "polled",
    file: "tests/store.rs",
    line: 1,
    source: "fn polled() {}",
    source_sha256: "0000000000000000000000000000000000000000000000000000000000000003",
});

#[test]
fn a_level_stored_elsewhere_reaches_the_process_on_poll() {
    for db in databases() {
        let store = db.open();
        let synced = store.sync_endpoints(&[&POLLED], 1, "1").unwrap();
        POLLED.set_level(1);
        let mut sink = store.sink("1", "here", &synced, 1, SECOND).unwrap();
        // Another instance's dashboard stores a new level.
        let elsewhere = db.open();
        assert!(elsewhere.set_level(synced[0].1, 3).unwrap());
        assert_eq!(POLLED.level(), 1, "{db}: not before the poll");
        sink.poll().unwrap();
        assert_eq!(POLLED.level(), 3, "{db}");
        let before = store.instances().unwrap()[0].last_seen;
        std::thread::sleep(Duration::from_millis(5));
        sink.poll().unwrap();
        assert!(
            store.instances().unwrap()[0].last_seen > before,
            "{db}: heartbeat"
        );
    }
}

#[test]
fn an_instance_that_shuts_down_is_gone_at_once_and_back_when_it_restarts() {
    for db in databases() {
        let store = db.open();
        let synced = store.sync_endpoints(&[&HOME], 1, "1").unwrap();
        let mut sink = store.sink("1", "web-1", &synced, 1, SECOND).unwrap();
        sink.write(&[record(&HOME, 1, 1, 200)], &[]).unwrap();
        let now = fmd_core::now_micros();
        let running = store.instances().unwrap().remove(0);
        assert_eq!(running.stopped, None, "{db}");
        assert!(running.is_live(now), "{db}");
        sink.stop().unwrap();
        let stopped = store.instances().unwrap().remove(0);
        assert!(
            stopped.stopped.is_some_and(|t| t >= now),
            "{db}: {stopped:?}"
        );
        assert!(!stopped.is_live(now), "{db}: a clean stop is not live");
        // Started again under the same name: running once more.
        drop(sink);
        let _sink = store.sink("2", "web-1", &synced, 1, SECOND).unwrap();
        let again = store.instances().unwrap().remove(0);
        assert_eq!((again.id, again.stopped), (stopped.id, None), "{db}");
        assert!(again.is_live(fmd_core::now_micros()), "{db}");
    }
}

#[test]
fn instances_starting_together_migrate_and_register_once() {
    for db in databases() {
        let threads: Vec<_> = (0..6)
            .map(|i| {
                let (url, prefix) = (db.url.clone(), db.prefix.clone());
                std::thread::spawn(move || {
                    let store = Store::open(&url, &prefix)?;
                    let synced = store.sync_endpoints(&[&HOME, &OTHER], 1, "1")?;
                    store.setting_or_insert("session_key", &format!("key-{i}"))?;
                    store.sink("1", &format!("web-{i}"), &synced, 1, SECOND)?;
                    Ok::<_, fmd_store::StoreError>(synced[0].1)
                })
            })
            .collect();
        let ids: Vec<i64> = threads
            .into_iter()
            .map(|t| t.join().unwrap().unwrap_or_else(|e| panic!("{db}: {e}")))
            .collect();
        assert!(
            ids.iter().all(|id| *id == ids[0]),
            "{db}: one endpoint row: {ids:?}"
        );
        let store = db.open();
        assert_eq!(store.endpoints().unwrap().len(), 2, "{db}");
        assert_eq!(store.instances().unwrap().len(), 6, "{db}");
        let key = store.setting_or_insert("session_key", "late").unwrap();
        assert!(key.starts_with("key-"), "{db}: one key for all: {key}");
    }
}

#[test]
fn last_requested_only_moves_forward() {
    for db in databases() {
        let store = db.open();
        let synced = store.sync_endpoints(&[&HOME], 0, "1").unwrap();
        let mut sink = store.sink("1", "a", &synced, 0, SECOND).unwrap();
        sink.write(&[], &[(&HOME, 2_000)]).unwrap();
        sink.write(&[], &[(&HOME, 1_000)]).unwrap();
        let row = store.endpoint(synced[0].1).unwrap().unwrap();
        assert_eq!(row.last_requested, Some(2_000_000_000), "{db}");
    }
}

#[test]
fn settings_keep_the_first_value() {
    for db in databases() {
        let store = db.open();
        assert_eq!(
            store.setting_or_insert("k", "first").unwrap(),
            "first",
            "{db}"
        );
        assert_eq!(
            store.setting_or_insert("k", "second").unwrap(),
            "first",
            "{db}"
        );
    }
}

#[test]
fn users_are_created_then_updated() {
    for db in databases() {
        let store = db.open();
        assert_eq!(store.admin_count().unwrap(), 0, "{db}");
        store.upsert_user("ann", "hash-1", false).unwrap();
        store.upsert_user("ann", "hash-2", true).unwrap();
        let ann = store.user("ann").unwrap().unwrap();
        assert_eq!(
            (ann.password_hash.as_str(), ann.is_admin),
            ("hash-2", 1),
            "{db}"
        );
        assert_eq!(store.admin_count().unwrap(), 1, "{db}");
        assert!(store.user("bob").unwrap().is_none(), "{db}");
    }
}

/// A database of the first schema, written as fmd 0.1 wrote it, is upgraded in place with
/// everything kept. On SQLite the fixture is a file fmd 0.1 made; on the servers the first
/// migration is applied by hand and filled with rows.
#[test]
fn a_first_schema_database_is_upgraded_with_its_data() {
    let fixture =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema-v1.db");
    let sqlite = sqlite();
    std::fs::copy(&fixture, sqlite.dir.as_ref().unwrap().path().join("fmd.db")).unwrap();
    let mut dbs = vec![sqlite];
    for db in databases()
        .into_iter()
        .filter(|d| d.backend != Backend::Sqlite)
    {
        let first = &fmd_store::migrations::MIGRATIONS[0];
        db.execute(&fmd_store::migrations::render(
            first.sql, db.backend, &db.prefix,
        ));
        db.execute(
            "CREATE TABLE {p}schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL);
             INSERT INTO {p}schema_migrations VALUES (1, 0);
             INSERT INTO {p}endpoint (name, monitor_level, time_added) VALUES ('home', 1, 0), ('other', 3, 0);
             INSERT INTO {p}dashboard_user (username, password_hash, is_admin) VALUES ('admin', 'h', 1);
             INSERT INTO {p}setting (name, value) VALUES ('session_key', 'fixture-key');",
        );
        let mut rows = Vec::new();
        for i in 0..25 {
            let status = if i % 5 == 0 { 500 } else { 200 };
            rows.push(format!("(1, {}, {i}, '0.1.0', {status})", 1_000 * (i + 1)));
        }
        for i in 0..4 {
            rows.push(format!("(2, 40000, {i}, '0.1.0', 404)"));
        }
        db.execute(&format!(
            "INSERT INTO {{p}}request (endpoint_id, duration_us, time_requested, version_requested, status_code) VALUES {}",
            rows.join(", ")
        ));
        dbs.push(db);
    }
    for db in dbs {
        let store = db.open();
        let endpoints = store.endpoints().unwrap();
        let levels: Vec<(&str, i32)> = endpoints
            .iter()
            .map(|e| (e.name.as_str(), e.monitor_level))
            .collect();
        assert_eq!(levels, [("home", 1), ("other", 3)], "{db}");
        let rows = store.overview(0, 0, None).unwrap();
        let figures: Vec<(i64, i64, Option<f64>)> = rows
            .iter()
            .map(|r| (r.hits_overall, r.errors_overall, r.median_overall_ms))
            .collect();
        assert_eq!(figures, [(25, 5, Some(13.0)), (4, 4, Some(40.0))], "{db}");
        assert_eq!(store.admin_count().unwrap(), 1, "{db}");
        assert_eq!(
            store.setting_or_insert("session_key", "new").unwrap(),
            "fixture-key",
            "{db}"
        );
        // Old rows have no instance; new ones do.
        let synced = store.sync_endpoints(&[&HOME], 1, "0.2.0").unwrap();
        assert_eq!(
            synced[0].1, endpoints[0].id,
            "{db}: the endpoint keeps its id"
        );
        let mut sink = store.sink("0.2.0", "new", &synced, 1, SECOND).unwrap();
        sink.write(&[record(&HOME, i64::MAX / 2, 1, 200)], &[])
            .unwrap();
        let newest = store
            .requests(&Filter::endpoint(synced[0].1), 0, 2)
            .unwrap();
        let instances: Vec<Option<&str>> = newest.iter().map(|r| r.instance.as_deref()).collect();
        assert_eq!(instances, [Some("new"), None], "{db}");
    }
}

#[test]
fn dropping_all_tables_leaves_none_behind() {
    for db in databases() {
        db.open().drop_all_tables().unwrap();
        assert_eq!(db.tables(), Vec::<String>::new(), "{db}");
    }
}

#[test]
fn a_newer_schema_is_refused() {
    let db = sqlite();
    db.open();
    db.execute("INSERT INTO {p}schema_migrations VALUES (999, 0)");
    let err = Store::open(&db.url, &db.prefix).unwrap_err().to_string();
    assert!(err.contains("schema version 999"), "{err}");
}

#[test]
fn bad_urls_say_what_to_use() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("fmd.db").display());
    let err = Store::open(&url, "fmd; DROP TABLE x; --")
        .unwrap_err()
        .to_string();
    assert!(err.contains("letters, digits and `_`"), "{err}");
    assert!(
        !dir.path().join("fmd.db").exists(),
        "refused before opening anything"
    );
    let err = Store::open("redis://localhost/x", "fmd_")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("sqlite://") && err.contains("postgres://"),
        "{err}"
    );
    let err = Store::open("sqlite:///no/such/folder/fmd.db", "fmd_")
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not exist"), "{err}");
    let err = Store::open("sqlite::memory:", "fmd_")
        .unwrap_err()
        .to_string();
    assert!(err.contains("file path"), "{err}");
    let err = Store::open("postgres://fmd:secret@127.0.0.1:1/none", "fmd_")
        .unwrap_err()
        .to_string();
    assert!(!err.contains("secret"), "the password is not shown: {err}");
    if cfg!(feature = "postgres") {
        assert!(err.contains("cannot open database"), "{err}");
    } else {
        assert!(
            err.contains("feature `postgres`") && err.contains("libpq-dev"),
            "{err}"
        );
    }
    let err = Store::open("mysql://root@127.0.0.1:1/none", "fmd_")
        .unwrap_err()
        .to_string();
    if cfg!(feature = "mysql") {
        assert!(err.contains("cannot open database"), "{err}");
    } else {
        assert!(err.contains("feature `mysql`"), "{err}");
    }
}

#[test]
fn users_are_added_changed_and_deleted_but_never_the_last_admin() {
    for db in databases() {
        let store = db.open();
        assert!(store.add_user("ann", "hash-a", true).unwrap(), "{db}");
        assert!(
            !store.add_user("ann", "other", false).unwrap(),
            "taken: {db}"
        );
        assert!(store.add_user("bob", "hash-b", false).unwrap(), "{db}");
        let users = store.users().unwrap();
        assert_eq!(
            users
                .iter()
                .map(|u| (u.username.as_str(), u.is_admin))
                .collect::<Vec<_>>(),
            [("ann", 1), ("bob", 0)],
            "{db}"
        );
        let (ann, bob) = (users[0].id, users[1].id);
        assert!(store.set_password(bob, "hash-b2", None).unwrap(), "{db}");
        assert_eq!(
            store.user("bob").unwrap().unwrap().password_hash,
            "hash-b2",
            "{db}"
        );
        assert!(!store.set_password(987_654, "x", None).unwrap(), "{db}");
        assert_eq!(
            store.delete_user(ann).unwrap(),
            Some(false),
            "the last admin stays: {db}"
        );
        assert_eq!(store.delete_user(bob).unwrap(), Some(true), "{db}");
        assert_eq!(store.delete_user(bob).unwrap(), None, "{db}");
        assert!(store.add_user("cy", "hash-c", true).unwrap(), "{db}");
        assert_eq!(
            store.delete_user(ann).unwrap(),
            Some(true),
            "another admin remains: {db}"
        );
        assert_eq!(store.admin_count().unwrap(), 1, "{db}");
        let size = store.database_size().unwrap();
        assert!(size.is_some_and(|n| n > 0), "{size:?}: {db}");
    }
}

fn session(id: &str, username: &str, expires: i64) -> fmd_store::SessionRow {
    fmd_store::SessionRow {
        id: id.into(),
        username: username.into(),
        is_admin: 1,
        csrf: format!("csrf-{id}"),
        created: 1_000,
        expires,
    }
}

#[test]
fn sessions_end_on_logout_expiry_password_change_and_user_deletion() {
    for db in databases() {
        let store = db.open();
        assert!(store.add_user("ann", "hash-a", true).unwrap(), "{db}");
        assert!(store.add_user("bob", "hash-b", true).unwrap(), "{db}");
        let bob = store.user("bob").unwrap().unwrap().id;
        for s in [
            session("a1", "ann", 10_000),
            session("a2", "ann", 10_000),
            session("a3", "ann", 2_000),
            session("b1", "bob", 10_000),
            session("b2", "bob", 10_000),
            session("b3", "bob", 10_000),
        ] {
            store.add_session(&s).unwrap();
        }
        let live = |id: &str, now: i64| store.session(id, now).unwrap().map(|s| s.id);
        assert_eq!(
            store.session("a1", 5_000).unwrap(),
            Some(session("a1", "ann", 10_000)),
            "{db}"
        );
        assert_eq!(live("a3", 1_999), Some("a3".into()), "{db}");
        assert_eq!(live("a3", 2_000), None, "expired at its end: {db}");
        assert_eq!(live("nope", 0), None, "{db}");
        assert_eq!(
            store
                .session_counts(5_000)
                .unwrap()
                .into_iter()
                .collect::<std::collections::BTreeMap<_, _>>(),
            [("ann".to_string(), 2), ("bob".to_string(), 3)].into(),
            "{db}"
        );
        assert_eq!(store.delete_expired_sessions(5_000).unwrap(), 1, "{db}");
        assert!(store.delete_session("a1").unwrap(), "logout: {db}");
        assert!(!store.delete_session("a1").unwrap(), "{db}");
        assert_eq!(live("a1", 0), None, "{db}");
        assert_eq!(
            live("a2", 0),
            Some("a2".into()),
            "another session stays: {db}"
        );
        assert!(
            store.set_password(bob, "hash-b2", Some("b1")).unwrap(),
            "{db}"
        );
        assert_eq!(
            ["b1", "b2", "b3"].map(|id| live(id, 0).is_some()),
            [true, false, false],
            "a password change keeps only the session that made it: {db}"
        );
        assert_eq!(store.delete_sessions_of("bob", None).unwrap(), 1, "{db}");
        store.add_session(&session("b4", "bob", 10_000)).unwrap();
        assert_eq!(store.delete_user(bob).unwrap(), Some(true), "{db}");
        assert_eq!(live("b4", 0), None, "a deleted user's sessions end: {db}");
        assert_eq!(live("a2", 0), Some("a2".into()), "{db}");
    }
}

#[test]
fn custom_graph_values_are_kept_by_time_and_pruned() {
    for db in databases() {
        let store = db.open();
        let id = store.ensure_graph("signups", 5).unwrap();
        assert_eq!(store.ensure_graph("signups", 9).unwrap(), id, "{db}");
        let other = store.ensure_graph("queue length", 9).unwrap();
        assert_ne!(id, other, "{db}");
        let hour = fmd_store::HOUR;
        for (t, v) in [(hour, 1.5), (3 * hour, 2.0), (2 * hour, -4.25)] {
            store.add_graph_value(id, t, v).unwrap();
        }
        store.add_graph_value(other, hour, 99.0).unwrap();
        assert_eq!(
            store.graph_values(id, 0, 10 * hour).unwrap(),
            [(hour, 1.5), (2 * hour, -4.25), (3 * hour, 2.0)],
            "oldest first: {db}"
        );
        assert_eq!(
            store.graph_values(id, 2 * hour, 3 * hour).unwrap(),
            [(2 * hour, -4.25)],
            "{db}"
        );
        let titles: Vec<String> = store
            .graphs()
            .unwrap()
            .into_iter()
            .map(|g| g.title)
            .collect();
        assert_eq!(titles, ["queue length", "signups"], "{db}");
        store.prune(2 * hour).unwrap();
        assert_eq!(
            store.graph_values(id, 0, 10 * hour).unwrap().len(),
            2,
            "{db}"
        );
        assert!(
            store.graph_values(other, 0, 10 * hour).unwrap().is_empty(),
            "{db}"
        );
    }
}
