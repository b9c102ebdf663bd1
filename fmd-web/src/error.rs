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
