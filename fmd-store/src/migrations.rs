//! Schema migrations, embedded in the binary and applied at start-up.
//!
//! Each migration is SQL with placeholders (`{p}` prefix, `{id}`, `{bool}`, `{text}`,
//! `{table_options}`) expanded for the backend. Instances starting at once against one database
//! take turns: PostgreSQL and MySQL migrate under a named lock of the database server; SQLite
//! applies each migration in a `BEGIN IMMEDIATE` transaction that first re-reads the version.
//! On SQLite and PostgreSQL a migration and its row in `{p}schema_migrations` commit together;
//! MySQL commits DDL statement by statement, so a migration that fails there half-way needs the
//! statements that did run undone by hand (the error says which migration failed).

use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};

use crate::db::{with_conn, AnyConn, Backend, Dialect};
use crate::StoreError;

/// A migration: number, name, SQL.
pub struct Migration {
    /// Applied in increasing order.
    pub version: i32,
    /// A short name for messages.
    pub name: &'static str,
    /// The SQL template.
    pub sql: &'static str,
    /// Run after the SQL, in the same transaction: fills what SQL alone cannot.
    pub(crate) fill: Option<Fill>,
}

type Fill = fn(&mut AnyConn, &Dialect) -> Result<(), diesel::result::Error>;

/// Every migration this build knows, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../migrations/0001_initial.sql"),
        fill: None,
    },
    Migration {
        version: 2,
        name: "instances",
        sql: include_str!("../migrations/0002_instances.sql"),
        fill: None,
    },
    Migration {
        version: 3,
        name: "profiles",
        sql: include_str!("../migrations/0003_profiles.sql"),
        fill: None,
    },
    Migration {
        version: 4,
        name: "prune index",
        sql: include_str!("../migrations/0004_prune_index.sql"),
        fill: None,
    },
    Migration {
        version: 5,
        name: "hourly rollups",
        sql: include_str!("../migrations/0005_request_hour.sql"),
        // Migration 6 makes the rollups again with a column this one lacks: filling here
        // would write that column too early.
        fill: None,
    },
    Migration {
        version: 6,
        name: "status codes in rollups",
        sql: include_str!("../migrations/0006_request_hour_codes.sql"),
        fill: Some(crate::write::rollup::backfill),
    },
    Migration {
        version: 7,
        name: "instance stopped",
        sql: include_str!("../migrations/0007_instance_stopped.sql"),
        fill: None,
    },
    Migration {
        version: 8,
        name: "sessions",
        sql: include_str!("../migrations/0008_sessions.sql"),
        fill: None,
    },
    Migration {
        version: 9,
        name: "minute rollups",
        sql: include_str!("../migrations/0009_request_minute.sql"),
        fill: Some(crate::write::rollup::backfill_minutes),
    },
    Migration {
        version: 10,
        name: "alerts",
        sql: include_str!("../migrations/0010_alerts.sql"),
        fill: None,
    },
    Migration {
        version: 11,
        name: "request events",
        sql: include_str!("../migrations/0011_request_events.sql"),
        fill: None,
    },
];

/// Every table the migrations create, without the prefix, those referring to others first.
pub const TABLES: &[&str] = &[
    "alert_delivery",
    "alert",
    "alert_rule",
    "request_minute",
    "request_hour",
    "request",
    "endpoint",
    "instance",
    "function_definition",
    "function_location",
    "outlier",
    "profile",
    "profile_span",
    "request_event",
    "exception_type",
    "exception_message",
    "stack_trace_snapshot",
    "exception_frame",
    "exception_stack_line",
    "exception_occurrence",
    "custom_graph",
    "custom_graph_data",
    "dashboard_session",
    "dashboard_user",
    "setting",
    "schema_migrations",
];

/// The SQL of a migration for `backend` with `prefix`.
pub fn render(sql: &str, backend: Backend, prefix: &str) -> String {
    let (id, text, table_options) = match backend {
        Backend::Sqlite => ("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT", ""),
        Backend::Postgres => ("BIGSERIAL PRIMARY KEY", "TEXT", ""),
        // MEDIUMTEXT: function sources can pass TEXT's 64 KiB. The charset is explicit because
        // a server's default may still be latin1.
        Backend::Mysql => (
            "BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY",
            "MEDIUMTEXT",
            " ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
        ),
    };
    sql.replace("{p}", prefix)
        .replace("{id}", id)
        .replace("{bool}", "INTEGER")
        .replace("{text}", text)
        .replace("{table_options}", table_options)
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Nullable<Integer>)]
    version: Option<i32>,
}

#[derive(QueryableByName)]
struct Locked {
    #[diesel(sql_type = Nullable<BigInt>)]
    ok: Option<i64>,
}

fn current_version(conn: &mut AnyConn, d: &Dialect) -> Result<i32, diesel::result::Error> {
    let query =
        diesel::sql_query(d.sql("SELECT MAX(version) AS version FROM {p}schema_migrations"));
    Ok(with_conn!(conn, c => query.get_result::<Version>(c))?
        .version
        .unwrap_or(0))
}

/// A name for the server-side lock that serialises migrations of one prefix.
fn lock_key(prefix: &str) -> i64 {
    // FNV-1a: stable across builds and platforms, unlike std's hasher.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"fmd-migrate:".iter().chain(prefix.as_bytes()) {
        h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

fn mysql_lock_name(prefix: &str) -> String {
    format!("fmd-migrate-{:x}", lock_key(prefix))
}

/// Takes the migration lock of PostgreSQL or MySQL (SQLite needs none, see the module docs).
fn lock(conn: &mut AnyConn, d: &Dialect) -> Result<(), StoreError> {
    let key = lock_key(&d.prefix);
    match d.backend {
        Backend::Sqlite => Ok(()),
        Backend::Postgres => Ok(conn.batch_execute(&format!("SELECT pg_advisory_lock({key})"))?),
        Backend::Mysql => {
            let query = diesel::sql_query("SELECT GET_LOCK(?, 600) AS ok")
                .bind::<Text, _>(mysql_lock_name(&d.prefix));
            match with_conn!(conn, c => query.get_result::<Locked>(c))?.ok {
                Some(1) => Ok(()),
                _ => Err(StoreError::Pool(
                    "another instance has been migrating the database for 10 minutes; \
                     check for a stuck fmd process"
                        .into(),
                )),
            }
        }
    }
}

fn unlock(conn: &mut AnyConn, d: &Dialect) -> Result<(), diesel::result::Error> {
    let key = lock_key(&d.prefix);
    match d.backend {
        Backend::Sqlite => Ok(()),
        Backend::Postgres => conn.batch_execute(&format!("SELECT pg_advisory_unlock({key})")),
        Backend::Mysql => conn.batch_execute(&format!(
            "DO RELEASE_LOCK('{}')",
            mysql_lock_name(&d.prefix)
        )),
    }
}

/// Applies every pending migration; returns how many this call applied.
pub(crate) fn run(conn: &mut AnyConn, d: &Dialect) -> Result<usize, StoreError> {
    lock(conn, d)?;
    let result = run_locked(conn, d);
    let unlocked = unlock(conn, d);
    let applied = result?;
    unlocked?;
    Ok(applied)
}

fn run_locked(conn: &mut AnyConn, d: &Dialect) -> Result<usize, StoreError> {
    conn.batch_execute(&d.sql(
        "CREATE TABLE IF NOT EXISTS {p}schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)",
    ))?;
    let known = MIGRATIONS.last().map(|m| m.version).unwrap_or(0);
    let found = current_version(conn, d)?;
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    let mut applied = 0;
    for m in MIGRATIONS.iter().filter(|m| m.version > found) {
        let sql = render(m.sql, d.backend, &d.prefix);
        let record = diesel::sql_query(
            d.sql("INSERT INTO {p}schema_migrations (version, applied_at) VALUES (?, ?)"),
        )
        .bind::<Integer, _>(m.version)
        .bind::<BigInt, _>(fmd_core::now_micros());
        let done = conn
            .transaction(true, |conn| {
                // Another SQLite process may have applied it while this one waited.
                if current_version(conn, d)? >= m.version {
                    return Ok(false);
                }
                conn.batch_execute(&sql)?;
                if let Some(fill) = m.fill {
                    fill(conn, d)?;
                }
                with_conn!(conn, c => record.execute(c))?;
                Ok(true)
            })
            .map_err(|source| StoreError::Migration {
                version: m.version,
                name: m.name,
                source,
            })?;
        applied += usize::from(done);
    }
    Ok(applied)
}
