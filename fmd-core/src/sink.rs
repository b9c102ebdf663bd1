//! The one thing storage implements: where the [writer](crate::writer) puts records.

use crate::record::RequestRecord;
use crate::registry::Endpoint;

/// An error from a [`Sink`]; the writer retries and keeps the records.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// Where the writer puts records: implemented by the store for each database.
pub trait Sink: Send + 'static {
    /// Writes `records` and the endpoints' last-requested times (seconds since the epoch) in one
    /// transaction: all or nothing.
    fn write(
        &mut self,
        records: &[RequestRecord],
        last_requested: &[(&'static Endpoint, i64)],
    ) -> Result<(), SinkError>;

    /// Called by the writer every few seconds while writes succeed: picks up what other
    /// processes changed (endpoint levels set from a dashboard elsewhere) and tells them this
    /// process is alive. The default does nothing.
    fn poll(&mut self) -> Result<(), SinkError> {
        Ok(())
    }

    /// Called by the writer once, when it shuts down after its last write: tells other
    /// processes' dashboards that this one stopped on purpose. The default does nothing.
    fn stop(&mut self) -> Result<(), SinkError> {
        Ok(())
    }
}
