//! The [`Store`]: a pool of connections to one database with the configured table prefix,
//! opened and migrated.

use crate::db::{establish, redact, sqlite_path, Pools};
use crate::db::{AnyConn, Backend, Dialect};
use crate::StoreError;
use std::time::Duration;

/// The database behind the dashboard: a small connection pool for the dashboard's queries, and
/// the means to open the writer's own connection.
#[derive(Clone)]
pub struct Store {
    pub(crate) pools: Pools,
    pub(crate) dialect: Dialect,
    /// What the driver connects to: the file path for SQLite, else the URL.
    target: String,
    url: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &redact(&self.url))
            .field("prefix", &self.dialect.prefix)
            .finish()
    }
}

impl Store {
    /// Opens the database at `url` (`sqlite://`, `postgres://` or `mysql://`), creating a SQLite
    /// file if needed, and applies pending migrations. Instances starting together against one
    /// database migrate it once: the migrations run under a lock.
    pub fn open(url: &str, prefix: &str) -> Result<Store, StoreError> {
        Store::open_with_timeout(url, prefix, Duration::from_secs(5))
    }

    /// Like [`Store::open`], with how long a statement waits for a lock held by another
    /// connection before failing.
    pub fn open_with_timeout(url: &str, prefix: &str, busy: Duration) -> Result<Store, StoreError> {
        if !fmd_core::config::valid_table_prefix(prefix) {
            return Err(StoreError::Prefix(prefix.to_owned()));
        }
        let backend = Backend::of_url(url)?;
        if let Some((feature, package)) = backend.missing() {
            return Err(StoreError::Url {
                url: redact(url),
                why: format!(
                    "this build of fmd has no {} support; enable fmd's feature `{feature}` \
                     (it needs apt-get install {package})",
                    backend.name()
                ),
            });
        }
        let target = match backend {
            Backend::Sqlite => sqlite_path(url)?,
            _ => url.to_owned(),
        };
        establish(backend, &target, url)?;
        let store = Store {
            pools: Pools::open(backend, &target, 4, Duration::from_secs(10), busy)?,
            dialect: Dialect {
                backend,
                prefix: prefix.to_owned(),
                capture_source: true,
            },
            target,
            url: url.to_owned(),
        };
        crate::migrations::run(&mut store.conn()?, &store.dialect)?;
        Ok(store)
    }

    /// Drops every table of this store's prefix: all that fmd recorded under it. For
    /// uninstalling, and for benchmarks and tests that share a database server.
    pub fn drop_all_tables(self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        for table in crate::migrations::TABLES {
            conn.batch_execute(&self.sql(&format!("DROP TABLE IF EXISTS {{p}}{table}")))?;
        }
        Ok(())
    }

    /// The database system in use.
    pub fn backend(&self) -> Backend {
        self.dialect.backend
    }

    /// Whether to store the source text of functions (endpoints, profiled functions, exception
    /// frames); default true. Off, only their hashes are stored, which grouping needs. A
    /// function's source is written when the function is first stored.
    pub fn set_capture_source(&mut self, capture: bool) {
        self.dialect.capture_source = capture;
    }

    /// The table prefix.
    pub fn prefix(&self) -> &str {
        &self.dialect.prefix
    }

    pub(crate) fn conn(&self) -> Result<AnyConn, StoreError> {
        self.pools.get()
    }

    /// A pool of one connection for the writer thread, whose statements give up after `busy`
    /// when another connection holds a lock they need. Reconnecting to a server that is down
    /// gives up after a second: the writer's backoff decides when to try again, and a flush
    /// should learn of the outage quickly.
    pub(crate) fn dedicated(&self, busy: Duration) -> Result<Pools, StoreError> {
        let connect_wait = Duration::from_secs(1);
        Pools::open(self.dialect.backend, &self.target, 1, connect_wait, busy)
    }

    /// The SQL rendered for this store's backend and prefix.
    pub(crate) fn sql(&self, template: &str) -> String {
        self.dialect.sql(template)
    }
}
