//! The finished request record, and the one rule that makes it from a monitored handler's run.

use std::net::IpAddr;

use crate::events::LogEvent;
use crate::exception::CapturedError;
use crate::profile::RequestDetail;
use crate::registry::Endpoint;
use crate::trail::Trail;

/// One monitored request at level 1 or above.
#[derive(Debug, Clone)]
pub struct RequestRecord {
    /// The endpoint whose handler ran.
    pub endpoint: &'static Endpoint,
    /// When the handler started, microseconds since the epoch (UTC).
    pub time_requested: i64,
    /// How long the handler ran, in microseconds.
    pub duration_us: u64,
    /// The status code the client received (500 for a panic, 499 when the client went away).
    pub status_code: u16,
    /// The client address.
    pub ip: Option<IpAddr>,
    /// The rendered group-by value, if any.
    pub group_by: Option<String>,
    /// At levels 2 and 3: the span tree and, for an outlier, what was seen of it.
    pub detail: Option<Box<RequestDetail>>,
}

/// How a monitored handler ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It returned.
    Completed,
    /// It panicked; the panic was resumed.
    Panicked,
    /// Its future was dropped before it finished (the client went away).
    Cancelled,
}

impl Outcome {
    /// The status recorded when the web layer did not see a response: 500 for a panic, 499 (the
    /// client closed the request) for a cancellation.
    pub fn fallback_status(self) -> u16 {
        match self {
            Outcome::Completed => 200,
            Outcome::Panicked => 500,
            Outcome::Cancelled => 499,
        }
    }
}

/// What the monitored handler reports into its request's state.
#[derive(Debug, Clone)]
pub struct HandlerRun {
    /// The endpoint.
    pub endpoint: &'static Endpoint,
    /// Start, microseconds since the epoch.
    pub started: i64,
    /// Duration in microseconds.
    pub duration_us: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// At levels 2 and 3: its span tree, and what made it an outlier.
    pub detail: Option<Box<RequestDetail>>,
    /// An error its callees (or it) returned that no annotated function handled.
    pub trail: Option<Box<Trail>>,
}

/// What the web layer (or, outside a tracked request, the handler itself) knows of a request's
/// end, for [`HandlerRun::into_record`].
#[derive(Debug, Default)]
pub struct Ending {
    /// The status the client received; `None` when no response was seen (a panic, a dropped
    /// future), and the outcome decides.
    pub status: Option<u16>,
    /// The client address.
    pub ip: Option<IpAddr>,
    /// The rendered group-by value.
    pub group_by: Option<String>,
    /// Errors captured while the request ran, in order.
    pub captured: Vec<CapturedError>,
    /// The framework's own error behind the answer, described.
    pub rejection: Option<Box<str>>,
    /// Log events raised while the request ran, oldest first: kept if the request is an
    /// outlier or raised an exception.
    pub events: Vec<LogEvent>,
}

impl HandlerRun {
    /// The request's record. A 5xx answer with an error returned through the handler behind
    /// it is that error's exception; without one, a 5xx that the framework gave for its own
    /// error is that error; a 5xx reply the handler chose itself is no exception.
    pub fn into_record(self, ending: Ending) -> RequestRecord {
        let HandlerRun {
            endpoint,
            started,
            duration_us,
            outcome,
            mut detail,
            trail,
        } = self;
        let mut exceptions = ending.captured;
        if !exceptions.is_empty() {
            let detail = detail.get_or_insert_with(Box::default);
            // Captured ones happened before the handler's end, where a panic is attached.
            exceptions.append(&mut detail.exceptions);
            detail.exceptions = exceptions;
        }
        let status_code = match (outcome, ending.status) {
            (Outcome::Completed, Some(status)) => status,
            (outcome, _) => outcome.fallback_status(),
        };
        let uncaught = match (trail, ending.rejection) {
            _ if status_code < 500 || outcome != Outcome::Completed => None,
            (Some(trail), _) => Some(trail.into_exception(&endpoint.meta)),
            (None, Some(description)) => {
                Some(CapturedError::rejection(&endpoint.meta, description.into()))
            }
            (None, None) => None,
        };
        if let Some(exception) = uncaught {
            detail
                .get_or_insert_with(Box::default)
                .exceptions
                .push(exception);
        }
        if let Some(detail) = detail.as_mut() {
            if detail.outlier.is_some() || !detail.exceptions.is_empty() {
                detail.events = ending.events;
            }
        }
        RequestRecord {
            endpoint,
            time_requested: started,
            duration_us,
            status_code,
            ip: ending.ip,
            group_by: ending.group_by,
            detail,
        }
    }
}
