//! Log events (`tracing`'s `warn!` and `error!`) kept with a request that turns out to be an
//! outlier or to raise an exception: what the application said about it while it ran.
//!
//! The `tracing` layer (feature `tracing`) hands events to [`capture::event`]; the request
//! keeps the last [`MAX_EVENTS`], and its record carries them only if it is an outlier or has
//! an exception, so ordinary requests store nothing.
//!
//! [`capture::event`]: crate::capture::event

use std::collections::VecDeque;

/// Events kept per request at most: the last ones, which are nearest to what went wrong.
pub const MAX_EVENTS: usize = 20;

/// One log event raised while a request ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEvent {
    /// When, microseconds since the epoch.
    pub time_us: i64,
    /// `WARN` or `ERROR`.
    pub level: &'static str,
    /// The event's target (by default its module path).
    pub target: String,
    /// The `message` field, formatted.
    pub message: String,
    /// The other fields, formatted; values of sensitive names (as outliers' headers are
    /// scrubbed: `token`, `password`, ...) replaced by `[scrubbed]`.
    pub fields: Vec<(String, String)>,
}

/// The last [`MAX_EVENTS`] events of a request.
#[derive(Debug, Default)]
pub(crate) struct Recent(VecDeque<LogEvent>);

impl Recent {
    pub(crate) fn push(&mut self, event: LogEvent) {
        if self.0.len() == MAX_EVENTS {
            self.0.pop_front();
        }
        self.0.push_back(event);
    }

    pub(crate) fn into_vec(self) -> Vec<LogEvent> {
        self.0.into()
    }
}
