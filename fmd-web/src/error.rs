/// Why the dashboard could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] fmd_core::ConfigError),
    /// The database could not be opened, migrated or written.
    #[error(transparent)]
    Store(#[from] fmd_store::StoreError),
    /// Two monitored functions share an endpoint name.
    #[error("two endpoints are named `{name}` ({first} and {second}); give one a distinct name with #[monitored(name = \"...\")]")]
    DuplicateEndpoint {
        /// The shared name.
        name: String,
        /// Where the first is defined.
        first: String,
        /// Where the second is defined.
        second: String,
    },
    /// Records could not be written at flush or shutdown; they are kept while the process lives.
    #[error("not every record reached the database: {0}")]
    Unwritten(String),
    /// A system resource (a thread) could not be created.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// No monitored endpoint has this name, or the level is not 0-3.
    #[error("{0}")]
    BadLevel(String),
    /// Hashing a configured password failed.
    #[error("cannot hash the configured password: {0}")]
    Password(String),
}

/// Why a dashboard request could not be answered from the database.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DbError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] fmd_store::StoreError),
    /// The blocking task that ran the query did not finish (a panic, or the runtime stopping).
    #[error("the database call was interrupted")]
    Interrupted,
}

/// A request's parameter is wrong: what to send instead.
#[derive(Debug, Clone, serde::Serialize, thiserror::Error)]
#[error("{0}")]
pub(crate) struct BadRequest(pub(crate) String);

impl From<String> for BadRequest {
    fn from(why: String) -> Self {
        BadRequest(why)
    }
}

impl From<&str> for BadRequest {
    fn from(why: &str) -> Self {
        BadRequest(why.to_owned())
    }
}
