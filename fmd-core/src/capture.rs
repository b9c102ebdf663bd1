//! How errors reach the request being served: [`capture`] (behind `fmd::capture!`), fmd's
//! panic hook, and log events ([`event`], from the `tracing` layer).

use std::error::Error;
use std::sync::Once;

use crate::context;
use crate::events::LogEvent;
use crate::exception::{self, CapturedError, Origin};

/// Records `err`, captured at `file:line`, with the request being served on this task. Returns
/// whether a request took it: outside a request tracked by `Dashboard::bind` or
/// `Dashboard::layer` (or below level 1) nothing is recorded.
#[doc(hidden)]
pub fn capture(
    (err, type_name): (&dyn Error, &'static str),
    file: &'static str,
    line: u32,
) -> bool {
    if context::with_current(|_| ()).is_none() {
        return false;
    }
    // Described outside the request's state: the error's `Display` is the application's code,
    // and may itself capture.
    let exception = CapturedError::from_error(err, type_name, file, line);
    context::with_current(|handed| handed.add_exception(exception)).unwrap_or(false)
}

static HOOK: Once = Once::new();

/// Installs fmd's panic hook once. It notes the panic's message, location and unresolved
/// backtrace for the monitored wrapper that catches it, then calls the hook installed before
/// it, so the panic is reported as it would be without fmd.
pub fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if context::bound() {
                let message = exception::panic_message(info.payload());
                let mut captured =
                    CapturedError::new(Origin::Panic, "panic".into(), message, Vec::new());
                captured.site = info.location().map(|l| (l.file().to_owned(), l.line()));
                exception::note_panic(captured);
            }
            previous(info);
        }));
    });
}

/// Whether a request is being served here, so that a log event is worth describing.
#[inline]
pub fn in_request() -> bool {
    context::with_current(|_| ()).is_some()
}

/// Keeps `event` with the request being served on this task; false outside a tracked request.
/// Values of fields with sensitive names are scrubbed as outliers' headers are.
///
/// ```
/// use fmd_core::capture::event;
/// use fmd_core::context::{RequestState, Scoped};
/// use fmd_core::events::LogEvent;
/// let warning = LogEvent {
///     time_us: 0,
///     level: "WARN",
///     target: "app".into(),
///     message: "slow cache".into(),
///     fields: vec![("api_token".into(), "t0k3n".into())],
/// };
/// assert!(!event(warning.clone()), "no request outside a scope");
/// let (recorder, _queue) = fmd_core::Recorder::new(10);
/// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// let inside = Scoped::new(recorder, RequestState::default(), async { event(warning) });
/// assert!(runtime.block_on(inside));
/// ```
pub fn event(mut event: LogEvent) -> bool {
    event.fields = crate::outlier::scrub(std::mem::take(&mut event.fields));
    context::with_current(|handed| handed.add_event(event)).is_some()
}
