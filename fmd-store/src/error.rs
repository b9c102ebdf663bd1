/// A storage error, saying what failed and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A table prefix that cannot be pasted into SQL.
    #[error(
        "table prefix {0:?} may hold only letters, digits and `_`; set table_prefix to such a name"
    )]
    Prefix(String),
    /// The database URL is not one fmd can use.
    #[error("unsupported database URL {url:?}: {why}")]
    Url {
        /// The URL as configured.
        url: String,
        /// Why it was refused.
        why: String,
    },
    /// The database could not be opened.
    #[error("cannot open database {url:?}: {source} (check the path and its permissions)")]
    Connect {
        /// The URL as configured.
        url: String,
        /// The driver's error.
        source: diesel::ConnectionError,
    },
    /// No connection could be taken from the pool.
    #[error("no database connection available: {0}")]
    Pool(String),
    /// A migration failed; the database is left at the previous version.
    #[error("database migration {version} ({name}) failed: {source}")]
    Migration {
        /// The migration's number.
        version: i32,
        /// The migration's name.
        name: &'static str,
        /// The driver's error.
        source: diesel::result::Error,
    },
    /// The database was written by a newer fmd.
    #[error("the database has schema version {found}, newer than this fmd knows ({known}); upgrade fmd or use another database")]
    TooNew {
        /// The version found.
        found: i32,
        /// The newest version this build knows.
        known: i32,
    },
    /// A read was asked for something it cannot answer; the message says what it accepts.
    #[error("{0}")]
    Invalid(String),
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
}
