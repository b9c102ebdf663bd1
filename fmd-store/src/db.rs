use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::{Connection, SqliteConnection};

use crate::StoreError;

pub(crate) type Conn = SqliteConnection;

/// The database behind the dashboard: a small connection pool for the dashboard's queries, and
/// the means to open the writer's own connection.
#[derive(Clone)]
pub struct Store {
    pub(crate) pool: Pool<ConnectionManager<Conn>>,
    pub(crate) prefix: String,
    path: PathBuf,
    url: String,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("url", &self.url)
            .field("prefix", &self.prefix)
            .finish()
    }
}

#[derive(Debug)]
struct Pragmas {
    busy_timeout_ms: u64,
}

fn apply_pragmas(conn: &mut Conn, busy_timeout_ms: u64) -> Result<(), diesel::result::Error> {
    // WAL lets the dashboard read while the writer writes; busy_timeout makes a locked database
    // wait briefly instead of failing at once.
    conn.batch_execute(&format!(
        "PRAGMA busy_timeout = {busy_timeout_ms}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;"
    ))
}

impl CustomizeConnection<Conn, diesel::r2d2::Error> for Pragmas {
    fn on_acquire(&self, conn: &mut Conn) -> Result<(), diesel::r2d2::Error> {
        apply_pragmas(conn, self.busy_timeout_ms).map_err(diesel::r2d2::Error::QueryError)
    }
}

/// The file path of a `sqlite://` URL: `sqlite://fmd.db` is relative to the working directory,
/// `sqlite:///var/lib/fmd.db` absolute.
fn sqlite_path(url: &str) -> Result<PathBuf, StoreError> {
    let bad = |why: &str| StoreError::Url {
        url: url.to_owned(),
        why: why.to_owned(),
    };
    if url.starts_with("postgres://")
        || url.starts_with("postgresql://")
        || url.starts_with("mysql://")
    {
        return Err(bad(
            "this build supports SQLite only; use `sqlite://path/to/fmd.db`",
        ));
    }
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| bad("expected `sqlite://path/to/fmd.db`"))?;
    if path.is_empty() || path.contains(":memory:") {
        return Err(bad("give a file path, e.g. `sqlite://fmd.db`; an in-memory database would lose every record at exit"));
    }
    Ok(PathBuf::from(path))
}

impl Store {
    /// Opens (creating if needed) the database at `url` and applies pending migrations.
    pub fn open(url: &str, prefix: &str) -> Result<Store, StoreError> {
        Store::open_with_timeout(url, prefix, Duration::from_secs(5))
    }

    /// Like [`Store::open`], with how long a statement waits for a lock held by another
    /// connection before failing.
    pub fn open_with_timeout(url: &str, prefix: &str, busy: Duration) -> Result<Store, StoreError> {
        let path = sqlite_path(url)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                return Err(StoreError::Url {
                    url: url.to_owned(),
                    why: format!("the folder {} does not exist", dir.display()),
                });
            }
        }
        let busy_timeout_ms = busy.as_millis() as u64;
        // Open once outside the pool so a bad path reports the driver's error, not r2d2's.
        let mut first =
            Conn::establish(&path.to_string_lossy()).map_err(|source| StoreError::Connect {
                url: url.to_owned(),
                source,
            })?;
        apply_pragmas(&mut first, busy_timeout_ms)?;
        crate::migrations::run(&mut first, prefix)?;
        let manager = ConnectionManager::<Conn>::new(path.to_string_lossy());
        let pool = Pool::builder()
            .max_size(4)
            .connection_timeout(Duration::from_secs(10))
            .connection_customizer(Box::new(Pragmas { busy_timeout_ms }))
            .build(manager)
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        Ok(Store {
            pool,
            prefix: prefix.to_owned(),
            path,
            url: url.to_owned(),
        })
    }

    pub(crate) fn conn(&self) -> Result<PooledConnection<ConnectionManager<Conn>>, StoreError> {
        self.pool.get().map_err(|e| StoreError::Pool(e.to_string()))
    }

    /// A new connection of its own, for the writer thread.
    pub(crate) fn dedicated(&self, busy: Duration) -> Result<Conn, StoreError> {
        let mut conn = Conn::establish(&self.path.to_string_lossy()).map_err(|source| {
            StoreError::Connect {
                url: self.url.clone(),
                source,
            }
        })?;
        apply_pragmas(&mut conn, busy.as_millis() as u64)?;
        Ok(conn)
    }

    /// The SQL with `{p}` replaced by the table prefix.
    pub(crate) fn sql(&self, template: &str) -> String {
        template.replace("{p}", &self.prefix)
    }
}
