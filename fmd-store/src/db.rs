use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sql_types::{BigInt, Text};
#[cfg(feature = "mysql")]
use diesel::MysqlConnection;
#[cfg(feature = "postgres")]
use diesel::PgConnection;
use diesel::{Connection, SqliteConnection};

use crate::StoreError;

/// The database system behind a [`Store`](crate::Store), chosen by the URL's scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://path/to/fmd.db` (always available; the library is bundled).
    Sqlite,
    /// `postgres://user@host/db` (feature `postgres`).
    Postgres,
    /// `mysql://user@host/db`, MySQL or MariaDB (feature `mysql`).
    Mysql,
}

impl Backend {
    /// The backend a URL names.
    pub fn of_url(url: &str) -> Result<Backend, StoreError> {
        let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            "mysql" | "mariadb" => Ok(Backend::Mysql),
            _ => Err(StoreError::Url {
                url: redact(url),
                why: "expected `sqlite://path/to/fmd.db`, `postgres://user@host/database` or \
                      `mysql://user@host/database`"
                    .into(),
            }),
        }
    }

    /// The backend's name, as the settings page shows it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
            Backend::Mysql => "MySQL",
        }
    }

    /// The cargo feature and the Debian package a backend missing from this build needs.
    pub(crate) fn missing(self) -> Option<(&'static str, &'static str)> {
        match self {
            Backend::Postgres if !cfg!(feature = "postgres") => Some(("postgres", "libpq-dev")),
            Backend::Mysql if !cfg!(feature = "mysql") => {
                Some(("mysql", "default-libmysqlclient-dev"))
            }
            _ => None,
        }
    }
}

pub(crate) use fmd_core::config::redact_url as redact;

/// SQL text for one backend and table prefix. Queries are written once, with `?` placeholders
/// and a few markers, and rendered here:
///
/// - `{p}`: the table prefix;
/// - `{insert_ignore}` and `{on_conflict_ignore}`: an INSERT that skips a row violating a unique
///   constraint, without an error (`INSERT OR IGNORE`, `INSERT IGNORE`, or `ON CONFLICT DO
///   NOTHING`), so instances racing to create the same row log nothing;
/// - `{div}`: integer division (`/`, or MySQL's `DIV`);
/// - `?`: rewritten to `$1`, `$2`, ... for PostgreSQL.
#[derive(Debug, Clone)]
pub(crate) struct Dialect {
    pub(crate) backend: Backend,
    pub(crate) prefix: String,
    /// Whether functions' source text is stored (`capture_source`); their hashes always are.
    pub(crate) capture_source: bool,
}

impl Dialect {
    pub(crate) fn sql(&self, template: &str) -> String {
        let sql = self.render(template);
        if self.backend == Backend::Postgres {
            numbered_placeholders(&sql)
        } else {
            sql
        }
    }

    /// `template` with the prefix and the backend's wording, placeholders still `?`.
    fn render(&self, template: &str) -> String {
        let (insert_ignore, on_conflict) = match self.backend {
            Backend::Sqlite => ("INSERT OR IGNORE", ""),
            Backend::Postgres => ("INSERT", " ON CONFLICT DO NOTHING"),
            Backend::Mysql => ("INSERT IGNORE", ""),
        };
        let div = if self.backend == Backend::Mysql {
            "DIV"
        } else {
            "/"
        };
        template
            .replace("{div}", div)
            .replace("{p}", &self.prefix)
            .replace("{insert_ignore}", insert_ignore)
            .replace("{on_conflict_ignore}", on_conflict)
    }
}

impl Dialect {
    /// `template` rendered as [`sql`](Self::sql) does, as the pieces between its `?`
    /// placeholders, for a [`Fixed`] statement (diesel writes the placeholders).
    pub(crate) fn pieces(&self, template: &str) -> Vec<String> {
        self.render(template)
            .split('?')
            .map(str::to_owned)
            .collect()
    }

    /// `value` as an SQL string literal. Quotes are doubled everywhere; MySQL also treats
    /// backslashes as escapes. Connections are set up so that this holds: PostgreSQL with
    /// `standard_conforming_strings`, MySQL without `NO_BACKSLASH_ESCAPES`. NUL cannot be
    /// stored in a text column and is dropped.
    pub(crate) fn string_literal(&self, value: &str) -> String {
        let mut out = String::with_capacity(value.len() + 2);
        out.push('\'');
        for ch in value.chars() {
            match ch {
                '\'' => out.push_str("''"),
                '\\' if self.backend == Backend::Mysql => out.push_str("\\\\"),
                '\0' => {}
                _ => out.push(ch),
            }
        }
        out.push('\'');
        out
    }
}

/// `?` outside string literals becomes `$1`, `$2`, ...
fn numbered_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let (mut n, mut quoted) = (0, false);
    for ch in sql.chars() {
        match ch {
            '\'' => {
                quoted = !quoted;
                out.push(ch);
            }
            '?' if !quoted => {
                n += 1;
                out.push('$');
                out.push_str(&n.to_string());
            }
            _ => out.push(ch),
        }
    }
    out
}

/// A connection of whichever backend the store uses. [`with_conn!`] runs one piece of code on
/// the concrete connection, so a query is written once and compiled for every backend.
pub(crate) enum AnyConn {
    Sqlite(PooledConnection<ConnectionManager<SqliteConnection>>),
    #[cfg(feature = "postgres")]
    Postgres(PooledConnection<ConnectionManager<PgConnection>>),
    #[cfg(feature = "mysql")]
    Mysql(PooledConnection<ConnectionManager<MysqlConnection>>),
}

/// `with_conn!(conn, c => expr)`: evaluates `expr` with `c` bound to the concrete diesel
/// connection inside `conn: &mut AnyConn`.
macro_rules! with_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            $crate::db::AnyConn::Sqlite($c) => {
                let $c: &mut ::diesel::SqliteConnection = &mut *$c;
                $body
            }
            #[cfg(feature = "postgres")]
            $crate::db::AnyConn::Postgres($c) => {
                let $c: &mut ::diesel::PgConnection = &mut *$c;
                $body
            }
            #[cfg(feature = "mysql")]
            $crate::db::AnyConn::Mysql($c) => {
                let $c: &mut ::diesel::MysqlConnection = &mut *$c;
                $body
            }
        }
    };
}
pub(crate) use with_conn;

impl AnyConn {
    /// Runs `f` in a transaction, committed when it returns `Ok`. With `immediate`, SQLite takes
    /// the write lock up front (`BEGIN IMMEDIATE`), so a busy database fails at the start rather
    /// than half-way; the other backends lock rows as they go.
    pub(crate) fn transaction<T, E>(
        &mut self,
        immediate: bool,
        f: impl FnOnce(&mut AnyConn) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<diesel::result::Error>,
    {
        match self {
            AnyConn::Sqlite(c) if immediate => {
                AnsiTransactionManager::begin_transaction_sql(&mut **c, "BEGIN IMMEDIATE")?
            }
            _ => with_conn!(self, c => AnsiTransactionManager::begin_transaction(c))?,
        }
        match f(self) {
            Ok(value) => {
                with_conn!(self, c => AnsiTransactionManager::commit_transaction(c))?;
                Ok(value)
            }
            Err(e) => {
                // The first error is the one worth reporting; a failed rollback leaves the
                // connection marked broken, and the pool replaces it.
                let _ = with_conn!(self, c => AnsiTransactionManager::rollback_transaction(c));
                Err(e)
            }
        }
    }

    pub(crate) fn batch_execute(&mut self, sql: &str) -> Result<(), diesel::result::Error> {
        with_conn!(self, c => c.batch_execute(sql))
    }
}

/// Statements run on every new connection.
#[derive(Debug)]
struct Setup(String);

impl<C: Connection> CustomizeConnection<C, diesel::r2d2::Error> for Setup {
    fn on_acquire(&self, conn: &mut C) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(&self.0)
            .map_err(diesel::r2d2::Error::QueryError)
    }
}

fn setup_sql(backend: Backend, lock_wait: Duration) -> String {
    let ms = lock_wait.as_millis().max(1);
    match backend {
        // WAL lets the dashboard read while the writer writes; busy_timeout makes a locked
        // database wait briefly instead of failing at once.
        Backend::Sqlite => format!(
            "PRAGMA busy_timeout = {ms}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
        ),
        // Notices ("relation already exists, skipping") would go to stderr.
        Backend::Postgres => {
            format!("SET lock_timeout = '{ms}ms'; SET client_min_messages = warning; SET standard_conforming_strings = on;")
        }
        // Whole seconds only; 1 s is the least MySQL waits.
        Backend::Mysql => {
            let s = lock_wait.as_secs().max(1);
            format!(
                "SET SESSION lock_wait_timeout = {s}; SET SESSION innodb_lock_wait_timeout = {s}; \
                 SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '');"
            )
        }
    }
}

/// A connection pool of the store's backend.
#[derive(Clone)]
pub(crate) enum Pools {
    Sqlite(Pool<ConnectionManager<SqliteConnection>>),
    #[cfg(feature = "postgres")]
    Postgres(Pool<ConnectionManager<PgConnection>>),
    #[cfg(feature = "mysql")]
    Mysql(Pool<ConnectionManager<MysqlConnection>>),
}

fn pool<C>(
    target: &str,
    size: u32,
    connect_wait: Duration,
    setup: String,
) -> Result<Pool<ConnectionManager<C>>, StoreError>
where
    C: diesel::r2d2::R2D2Connection + 'static,
{
    // Unchecked: the caller has just connected once, and reported the driver's error if any.
    Ok(Pool::builder()
        .max_size(size)
        .min_idle(Some(0))
        .connection_timeout(connect_wait)
        .connection_customizer(Box::new(Setup(setup)))
        .build_unchecked(ConnectionManager::<C>::new(target)))
}

impl Pools {
    /// `connect_wait` bounds how long taking a connection may wait, including reconnecting to a
    /// server that is down; `lock_wait` how long a statement waits for another's lock.
    pub(crate) fn open(
        backend: Backend,
        target: &str,
        size: u32,
        connect_wait: Duration,
        lock_wait: Duration,
    ) -> Result<Pools, StoreError> {
        let setup = setup_sql(backend, lock_wait);
        Ok(match backend {
            Backend::Sqlite => Pools::Sqlite(pool(target, size, connect_wait, setup)?),
            #[cfg(feature = "postgres")]
            Backend::Postgres => Pools::Postgres(pool(target, size, connect_wait, setup)?),
            #[cfg(feature = "mysql")]
            Backend::Mysql => Pools::Mysql(pool(target, size, connect_wait, setup)?),
            #[allow(unreachable_patterns)]
            other => unreachable!("{other:?} is refused by Store::open without its feature"),
        })
    }

    pub(crate) fn get(&self) -> Result<AnyConn, StoreError> {
        let err = |e: diesel::r2d2::PoolError| StoreError::Pool(e.to_string());
        Ok(match self {
            Pools::Sqlite(p) => AnyConn::Sqlite(p.get().map_err(err)?),
            #[cfg(feature = "postgres")]
            Pools::Postgres(p) => AnyConn::Postgres(p.get().map_err(err)?),
            #[cfg(feature = "mysql")]
            Pools::Mysql(p) => AnyConn::Mysql(p.get().map_err(err)?),
        })
    }
}

/// The file path of a `sqlite://` URL: `sqlite://fmd.db` is relative to the working directory,
/// `sqlite:///var/lib/fmd.db` absolute.
pub(crate) fn sqlite_path(url: &str) -> Result<String, StoreError> {
    let bad = |why: String| StoreError::Url {
        url: url.to_owned(),
        why,
    };
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| bad("expected `sqlite://path/to/fmd.db`".into()))?;
    if path.is_empty() || path.contains(":memory:") {
        return Err(bad("give a file path, e.g. `sqlite://fmd.db`; an in-memory database would lose every record at exit".into()));
    }
    let parent = std::path::Path::new(path).parent();
    if let Some(dir) = parent.filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            return Err(bad(format!("the folder {} does not exist", dir.display())));
        }
    }
    Ok(path.to_owned())
}

/// Opens one connection outside any pool, so that a bad URL reports the driver's own error.
pub(crate) fn establish(backend: Backend, target: &str, url: &str) -> Result<(), StoreError> {
    let err = |source| StoreError::Connect {
        url: redact(url),
        source,
    };
    match backend {
        Backend::Sqlite => drop(SqliteConnection::establish(target).map_err(err)?),
        #[cfg(feature = "postgres")]
        Backend::Postgres => drop(PgConnection::establish(target).map_err(err)?),
        #[cfg(feature = "mysql")]
        Backend::Mysql => drop(MysqlConnection::establish(target).map_err(err)?),
        #[allow(unreachable_patterns)]
        _ => {}
    }
    Ok(())
}

/// A statement whose text is fixed for the connection it runs on (the table prefix and the
/// dialect never change there), prepared once and then found in diesel's statement cache under
/// the marker type `Id`; a `sql_query` is prepared again on every execution. Each statement
/// needs a marker type of its own. Its SQL is kept as the pieces between its placeholders
/// ([`Dialect::pieces`]), so diesel writes each backend's placeholders itself.
pub(crate) struct Fixed<'a, Id> {
    pieces: &'a [String],
    binds: &'a [Value<'a>],
    id: std::marker::PhantomData<Id>,
}

/// A value bound to a [`Fixed`] statement.
pub(crate) enum Value<'a> {
    Int(i64),
    Text(&'a str),
}

impl<'a, Id> Fixed<'a, Id> {
    /// `pieces` with `binds` between them: one bind fewer than pieces.
    pub(crate) fn new(pieces: &'a [String], binds: &'a [Value<'a>]) -> Self {
        debug_assert_eq!(
            pieces.len(),
            binds.len() + 1,
            "a bind between each two pieces"
        );
        Fixed {
            pieces,
            binds,
            id: std::marker::PhantomData,
        }
    }
}

impl<Id: 'static> QueryId for Fixed<'_, Id> {
    type QueryId = Id;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl<DB, Id> QueryFragment<DB> for Fixed<'_, Id>
where
    DB: diesel::backend::Backend
        + diesel::sql_types::HasSqlType<BigInt>
        + diesel::sql_types::HasSqlType<Text>,
    i64: diesel::serialize::ToSql<BigInt, DB>,
    str: diesel::serialize::ToSql<Text, DB>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> diesel::QueryResult<()> {
        for (i, piece) in self.pieces.iter().enumerate() {
            out.push_sql(piece);
            match self.binds.get(i) {
                Some(Value::Int(v)) => out.push_bind_param::<BigInt, i64>(v)?,
                Some(Value::Text(v)) => out.push_bind_param::<Text, str>(v)?,
                None => {}
            }
        }
        Ok(())
    }
}

impl<Id> Query for Fixed<'_, Id> {
    type SqlType = diesel::sql_types::Untyped;
}

impl<Id, Conn> diesel::RunQueryDsl<Conn> for Fixed<'_, Id> {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_outside_strings() {
        assert_eq!(
            numbered_placeholders("SELECT '?' , a FROM t WHERE b = ? AND c IN (?, ?)"),
            "SELECT '?' , a FROM t WHERE b = $1 AND c IN ($2, $3)"
        );
    }

    #[test]
    fn string_literals_are_escaped_per_backend() {
        let d = |backend| Dialect {
            backend,
            prefix: String::new(),
            capture_source: true,
        };
        let tricky = "1.0'); DROP TABLE x; --\\\0";
        assert_eq!(
            d(Backend::Sqlite).string_literal(tricky),
            "'1.0''); DROP TABLE x; --\\'"
        );
        assert_eq!(
            d(Backend::Postgres).string_literal(tricky),
            "'1.0''); DROP TABLE x; --\\'"
        );
        assert_eq!(
            d(Backend::Mysql).string_literal(tricky),
            "'1.0''); DROP TABLE x; --\\\\'"
        );
    }

    #[test]
    fn the_scheme_selects_the_backend() {
        assert_eq!(Backend::of_url("sqlite://x.db").unwrap(), Backend::Sqlite);
        assert_eq!(
            Backend::of_url("postgresql://h/d").unwrap(),
            Backend::Postgres
        );
        assert_eq!(Backend::of_url("mysql://h/d").unwrap(), Backend::Mysql);
        assert!(Backend::of_url("redis://h").is_err());
    }
}
