//! Schema migrations, embedded in the binary and applied at start-up.
//!
//! Each migration is SQL with placeholders (`{p}` prefix, `{id}`, `{bool}`, `{text}`) expanded for
//! the backend, applied in one transaction together with its row in `{p}schema_migrations`.

use diesel::connection::SimpleConnection;
use diesel::sql_types::Integer;
use diesel::{Connection, QueryableByName, RunQueryDsl};

use crate::db::Conn;
use crate::StoreError;

/// A migration: number, name, SQL.
pub struct Migration {
    /// Applied in increasing order.
    pub version: i32,
    /// A short name for messages.
    pub name: &'static str,
    /// The SQL template.
    pub sql: &'static str,
}

/// Every migration this build knows, oldest first.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "initial",
    sql: include_str!("../migrations/0001_initial.sql"),
}];

/// The SQL of a migration for SQLite with `prefix`.
pub fn render(sql: &str, prefix: &str) -> String {
    sql.replace("{p}", prefix)
        .replace("{id}", "INTEGER PRIMARY KEY AUTOINCREMENT")
        .replace("{bool}", "INTEGER")
        .replace("{text}", "TEXT")
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = diesel::sql_types::Nullable<Integer>)]
    version: Option<i32>,
}

/// Applies every pending migration; returns how many were applied.
pub(crate) fn run(conn: &mut Conn, prefix: &str) -> Result<usize, StoreError> {
    conn.batch_execute(&format!(
        "CREATE TABLE IF NOT EXISTS {prefix}schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)"
    ))?;
    let current = diesel::sql_query(format!(
        "SELECT MAX(version) AS version FROM {prefix}schema_migrations"
    ))
    .get_result::<Version>(conn)?
    .version
    .unwrap_or(0);
    let known = MIGRATIONS.last().map(|m| m.version).unwrap_or(0);
    if current > known {
        return Err(StoreError::TooNew {
            found: current,
            known,
        });
    }
    let mut applied = 0;
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let sql = render(m.sql, prefix);
        conn.transaction(|c| {
            c.batch_execute(&sql)?;
            diesel::sql_query(format!(
                "INSERT INTO {prefix}schema_migrations (version, applied_at) VALUES (?, ?)"
            ))
            .bind::<Integer, _>(m.version)
            .bind::<diesel::sql_types::BigInt, _>(fmd_core::now_micros())
            .execute(c)
            .map(|_| ())
        })
        .map_err(|source| StoreError::Migration {
            version: m.version,
            name: m.name,
            source,
        })?;
        applied += 1;
    }
    Ok(applied)
}
