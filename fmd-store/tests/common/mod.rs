#![allow(dead_code, missing_docs, unreachable_pub)]
//! Test databases on every backend: SQLite in a temporary folder always; PostgreSQL and MySQL
//! when their feature is enabled, at `FMD_TEST_POSTGRES` / `FMD_TEST_MYSQL` or this machine's
//! servers. Each test gets its own table prefix, and drops its tables afterwards. A server
//! that does not answer is skipped with a message, or fails the test when `CI=true`.

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;

use diesel::connection::SimpleConnection;
use diesel::{Connection, QueryableByName, RunQueryDsl};
use fmd_core::{Endpoint, EndpointMeta, RequestRecord};
use fmd_store::{Backend, Store};

pub static HOME: Endpoint = Endpoint::new(EndpointMeta {
    name: "home",
    module_path: "tests",
    function: "f",
    file: "tests/common.rs",
    line: 1,
    source: "fn home() {}",
    source_sha256: "0000000000000000000000000000000000000000000000000000000000000001",
});

pub static OTHER: Endpoint = Endpoint::new(EndpointMeta {
    name: "other",
    module_path: "tests",
    function: "f",
    file: "tests/common.rs",
    line: 2,
    source: "fn other() {}",
    source_sha256: "0000000000000000000000000000000000000000000000000000000000000002",
});

pub fn record(
    endpoint: &'static Endpoint,
    time: i64,
    duration_us: u64,
    status: u16,
) -> RequestRecord {
    RequestRecord {
        endpoint,
        time_requested: time,
        duration_us,
        status_code: status,
        ip: Some("127.0.0.1".parse::<IpAddr>().unwrap()),
        group_by: Some("(User,3)".into()),
        detail: None,
    }
}

/// One backend's database for one test, under a table prefix of its own.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    pub prefix: String,
    /// The SQLite file's folder.
    pub dir: Option<tempfile::TempDir>,
}

impl std::fmt::Display for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.backend.name(), self.prefix)
    }
}

impl TestDb {
    pub fn open(&self) -> Store {
        Store::open(&self.url, &self.prefix).unwrap_or_else(|e| panic!("opening {self}: {e}"))
    }

    /// Another prefix on the same database.
    pub fn sibling(&self) -> TestDb {
        TestDb {
            backend: self.backend,
            url: self.url.clone(),
            prefix: unique_prefix(),
            dir: None,
        }
    }

    /// Runs statements on a connection of this test's own, `{p}` replaced by the prefix.
    pub fn execute(&self, sql: &str) {
        let sql = sql.replace("{p}", &self.prefix);
        self.connection()
            .batch_execute(&sql)
            .unwrap_or_else(|e| panic!("{self}: {sql}: {e}"));
    }

    /// Names of the tables that carry this test's prefix.
    pub fn tables(&self) -> Vec<String> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            }
            Backend::Postgres => {
                "SELECT CAST(tablename AS TEXT) AS name FROM pg_tables WHERE schemaname = current_schema()"
            }
            Backend::Mysql => {
                "SELECT CAST(table_name AS CHAR) AS name FROM information_schema.tables WHERE table_schema = DATABASE()"
            }
        };
        self.names(sql)
    }

    /// Names of the indexes on this test's tables (PostgreSQL and SQLite name them per schema;
    /// MySQL per table, so its are not listed).
    pub fn indexes(&self) -> Vec<String> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'"
            }
            Backend::Postgres => {
                "SELECT CAST(indexname AS TEXT) AS name FROM pg_indexes WHERE schemaname = current_schema()"
            }
            Backend::Mysql => return Vec::new(),
        };
        self.names(sql)
    }

    fn names(&self, sql: &str) -> Vec<String> {
        #[derive(QueryableByName)]
        struct Name {
            #[diesel(sql_type = diesel::sql_types::Text)]
            name: String,
        }
        let all: Vec<Name> = match &mut self.connection() {
            Conn::Sqlite(c) => diesel::sql_query(sql).load(c),
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => diesel::sql_query(sql).load(c),
            #[cfg(feature = "mysql")]
            Conn::Mysql(c) => diesel::sql_query(sql).load(c),
        }
        .unwrap_or_else(|e| panic!("{self}: {e}"));
        let mut names: Vec<String> = all
            .into_iter()
            .map(|n| n.name)
            .filter(|n| self.dir.is_some() || n.starts_with(&self.prefix))
            .collect();
        names.sort();
        names
    }

    /// The rows in this test's `table` (without the prefix).
    pub fn rows(&self, table: &str) -> i64 {
        self.count(&format!("SELECT COUNT(*) AS n FROM {}{table}", self.prefix))
    }

    /// The number a `SELECT COUNT(*) AS n ...` returns, on a connection of this test's own.
    pub fn count(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct N {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let got: N = match &mut self.connection() {
            Conn::Sqlite(c) => diesel::sql_query(sql).get_result(c),
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => diesel::sql_query(sql).get_result(c),
            #[cfg(feature = "mysql")]
            Conn::Mysql(c) => diesel::sql_query(sql).get_result(c),
        }
        .unwrap_or_else(|e| panic!("{self}: {sql}: {e}"));
        got.n
    }

    pub fn connection(&self) -> Conn {
        match self.backend {
            Backend::Sqlite => {
                let mut c =
                    diesel::SqliteConnection::establish(self.url.trim_start_matches("sqlite://"))
                        .unwrap();
                // A store just dropped may still have a pool thread setting up a connection
                // (WAL mode takes the write lock for a moment): wait for it, as the store does.
                diesel::connection::SimpleConnection::batch_execute(
                    &mut c,
                    "PRAGMA busy_timeout = 5000",
                )
                .unwrap();
                Conn::Sqlite(c)
            }
            #[cfg(feature = "postgres")]
            Backend::Postgres => {
                Conn::Postgres(diesel::PgConnection::establish(&self.url).unwrap())
            }
            #[cfg(feature = "mysql")]
            Backend::Mysql => Conn::Mysql(diesel::MysqlConnection::establish(&self.url).unwrap()),
            #[allow(unreachable_patterns)]
            other => unreachable!("{other:?} is only tested with its feature"),
        }
    }

    /// Makes the request table unwritable from another connection until the returned guard
    /// is released: the database is "unavailable" to the writer, whose statements time out.
    pub fn lock_requests(&self) -> Locked {
        let mut conn = self.connection();
        let table = format!("{}request", self.prefix);
        let sql = match self.backend {
            Backend::Sqlite => "BEGIN EXCLUSIVE".to_owned(),
            Backend::Postgres => format!("BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"),
            Backend::Mysql => format!("LOCK TABLES {table} WRITE"),
        };
        conn.batch_execute(&sql)
            .unwrap_or_else(|e| panic!("{self}: {e}"));
        Locked {
            conn,
            release: match self.backend {
                Backend::Mysql => "UNLOCK TABLES",
                _ => "COMMIT",
            },
        }
    }
}

/// A lock held by [`TestDb::lock_requests`].
pub struct Locked {
    conn: Conn,
    release: &'static str,
}

impl Locked {
    pub fn release(mut self) {
        self.conn.batch_execute(self.release).unwrap();
    }
}

pub enum Conn {
    Sqlite(diesel::SqliteConnection),
    #[cfg(feature = "postgres")]
    Postgres(diesel::PgConnection),
    #[cfg(feature = "mysql")]
    Mysql(diesel::MysqlConnection),
}

impl Conn {
    pub fn batch_execute(&mut self, sql: &str) -> diesel::QueryResult<()> {
        match self {
            Conn::Sqlite(c) => c.batch_execute(sql),
            #[cfg(feature = "postgres")]
            Conn::Postgres(c) => c.batch_execute(sql),
            #[cfg(feature = "mysql")]
            Conn::Mysql(c) => c.batch_execute(sql),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if self.dir.is_some() || std::thread::panicking() {
            // SQLite's folder goes with it; a failed test's tables are kept to look at.
            return;
        }
        for table in self.tables() {
            self.execute(&format!("DROP TABLE {table}"));
        }
    }
}

fn unique_prefix() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "t{}n{}_",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

#[allow(unused_variables)]
fn connects(backend: Backend, url: &str) -> Result<(), String> {
    let result: diesel::ConnectionResult<()> = match backend {
        #[cfg(feature = "postgres")]
        Backend::Postgres => diesel::PgConnection::establish(url).map(drop),
        #[cfg(feature = "mysql")]
        Backend::Mysql => diesel::MysqlConnection::establish(url).map(drop),
        _ => Ok(()),
    };
    result.map_err(|e| e.to_string())
}

/// Whether the server at `url` answers; with `CI=true` it must.
fn reachable(backend: Backend, url: &str) -> bool {
    match connects(backend, url) {
        Ok(()) => true,
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{} at {url} is required in CI: {e}", backend.name())
        }
        Err(e) => {
            eprintln!(
                "skipping the {} tests: cannot connect to {url}: {e} (start the server, or point FMD_TEST_{} at one)",
                backend.name(),
                match backend {
                    Backend::Mysql => "MYSQL",
                    _ => "POSTGRES",
                }
            );
            false
        }
    }
}

fn server(backend: Backend, var: &str, default: &str) -> Option<String> {
    let url = std::env::var(var).unwrap_or_else(|_| default.to_owned());
    reachable(backend, &url).then_some(url)
}

/// The database servers this build can test, probed once per test binary.
fn servers() -> &'static [(Backend, String)] {
    static SERVERS: OnceLock<Vec<(Backend, String)>> = OnceLock::new();
    SERVERS.get_or_init(|| {
        let mut found = Vec::new();
        if cfg!(feature = "postgres") {
            found.extend(
                server(
                    Backend::Postgres,
                    "FMD_TEST_POSTGRES",
                    "postgres://postgres@127.0.0.1:5432/test",
                )
                .map(|url| (Backend::Postgres, url)),
            );
        }
        if cfg!(feature = "mysql") {
            found.extend(
                server(
                    Backend::Mysql,
                    "FMD_TEST_MYSQL",
                    "mysql://root@127.0.0.1:3306/test",
                )
                .map(|url| (Backend::Mysql, url)),
            );
        }
        found
    })
}

/// A fresh SQLite database.
pub fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    TestDb {
        backend: Backend::Sqlite,
        url: format!("sqlite://{}", dir.path().join("fmd.db").display()),
        prefix: "fmd_".into(),
        dir: Some(dir),
    }
}

/// A fresh database on every backend available.
pub fn databases() -> Vec<TestDb> {
    let mut dbs = vec![sqlite()];
    for (backend, url) in servers() {
        dbs.push(TestDb {
            backend: *backend,
            url: url.clone(),
            prefix: unique_prefix(),
            dir: None,
        });
    }
    dbs
}
