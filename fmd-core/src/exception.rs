//! Exception capture: errors passed to `fmd::capture!` and panics in monitored handlers.
//!
//! On the request path an exception costs its message, its `source()` chain and an unresolved
//! backtrace (the stack's return addresses); symbols are resolved and frames matched to the
//! binary's registered functions later, by the writer ([`resolve`]).

use std::cell::RefCell;
use std::error::Error;

use crate::registry::{endpoints, functions, EndpointMeta};

/// How an exception reached fmd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// `fmd::capture!` in user code: the error was handled.
    Captured,
    /// A panic in a monitored handler (or code it called on its task).
    Panic,
    /// A rejection that warp answered with a 5xx, with no panic behind it.
    Rejection,
    /// An error returned by annotated functions that ended the request with a 5xx.
    Returned,
}

/// Where an exception happened.
#[derive(Debug, Clone)]
pub enum Stack {
    /// The stack when it was captured, unresolved: its return addresses, innermost first.
    Backtrace(Vec<usize>),
    /// Registered functions it passed through, innermost first, each with a line in it: for
    /// exceptions noticed after the stack that raised them is gone.
    Functions(Vec<(&'static EndpointMeta, u32)>),
}

/// One exception, as captured on the request path.
#[derive(Debug, Clone)]
pub struct CapturedError {
    /// How it reached fmd.
    pub origin: Origin,
    /// The error's type as the capture site saw it (`std::io::Error`), or `panic`.
    pub type_name: String,
    /// Its `Display` text, or the panic's message.
    pub message: String,
    /// The `Display` texts of its `source()` chain, outermost first.
    pub chain: Vec<String>,
    /// Where it was captured (`capture!`'s call site, or where the panic happened).
    pub site: Option<(String, u32)>,
    /// When, microseconds since the epoch.
    pub time: i64,
    /// Where it happened.
    pub stack: Stack,
}

impl CapturedError {
    pub(crate) fn new(
        origin: Origin,
        type_name: String,
        message: String,
        chain: Vec<String>,
    ) -> Self {
        CapturedError {
            origin,
            type_name,
            message,
            chain,
            site: None,
            time: crate::now_micros(),
            stack: Stack::Backtrace(return_addresses()),
        }
    }

    /// A rejection described by `description` that ended a request of `endpoint` with a 5xx.
    pub fn rejection(endpoint: &'static EndpointMeta, description: String) -> Self {
        CapturedError {
            origin: Origin::Rejection,
            type_name: "rejection".into(),
            message: description,
            chain: Vec::new(),
            site: None,
            time: crate::now_micros(),
            stack: Stack::Functions(vec![(endpoint, endpoint.line)]),
        }
    }

    /// An error passed to `capture!` at `file:line`.
    pub fn from_error(err: &dyn Error, type_name: &str, file: &str, line: u32) -> Self {
        let mut captured = CapturedError::new(
            Origin::Captured,
            type_name.to_owned(),
            err.to_string(),
            source_chain(err),
        );
        captured.site = Some((file.to_owned(), line));
        captured
    }
}

/// Return addresses kept per exception at most, innermost first.
const MAX_ADDRESSES: usize = 256;

/// The stack's return addresses, innermost first: all the request path pays for. Only the
/// instruction pointers are read; `backtrace::Backtrace::new_unresolved` also looks up each
/// frame's function start, which costs about as much again.
fn return_addresses() -> Vec<usize> {
    let mut addresses = Vec::with_capacity(64);
    backtrace::trace(|frame| {
        addresses.push(frame.ip() as usize);
        addresses.len() < MAX_ADDRESSES
    });
    addresses
}

/// The `Display` texts of `err`'s `source()` chain, outermost first.
pub(crate) fn source_chain(err: &dyn Error) -> Vec<String> {
    let mut chain = Vec::new();
    let mut source = err.source();
    while let Some(s) = source {
        chain.push(s.to_string());
        source = s.source();
    }
    chain
}

/// What `capture!` accepts: any `std::error::Error` value or reference, `&dyn Error`, and
/// `anyhow::Error`, `Box<dyn Error>` or any other type that dereferences to `dyn Error`.
///
/// The macro calls `as_captured_error` on `&&err`. Method lookup tries that receiver, then
/// dereferenced ones: an error value or reference matches [`ViaError`] at once; a type that is
/// no error itself matches [`ViaDeref`] one step later, through its `Deref` to `dyn Error`.
#[doc(hidden)]
pub trait ViaError {
    /// The error and its type's name.
    fn as_captured_error(&self) -> (&dyn Error, &'static str);
}

impl<E: Error> ViaError for &&E {
    fn as_captured_error(&self) -> (&dyn Error, &'static str) {
        (**self, std::any::type_name::<E>())
    }
}

/// See [`ViaError`].
#[doc(hidden)]
pub trait ViaDeref {
    /// The error behind the reference, and the outer type's name.
    fn as_captured_error(&self) -> (&dyn Error, &'static str);
}

impl<T> ViaDeref for &T
where
    T: std::ops::Deref,
    T::Target: DynError,
{
    fn as_captured_error(&self) -> (&dyn Error, &'static str) {
        ((***self).as_dyn(), std::any::type_name::<T>())
    }
}

/// `dyn Error`, with or without `Send + Sync`: what [`ViaDeref`] looks through.
#[doc(hidden)]
pub trait DynError {
    /// Itself.
    fn as_dyn(&self) -> &dyn Error;
}

impl DynError for dyn Error {
    fn as_dyn(&self) -> &dyn Error {
        self
    }
}

impl DynError for dyn Error + Send + Sync {
    fn as_dyn(&self) -> &dyn Error {
        self
    }
}

thread_local! {
    /// What fmd's panic hook saw of the last panic on this thread: taken by the monitored
    /// wrapper that catches it.
    static LAST_PANIC: RefCell<Option<CapturedError>> = const { RefCell::new(None) };
}

/// Notes `panic` for the monitored wrapper on this thread that will catch it.
pub(crate) fn note_panic(panic: CapturedError) {
    LAST_PANIC.with(|p| *p.borrow_mut() = Some(panic));
}

/// The panic the hook noted last on this thread, if any.
pub(crate) fn take_panic() -> Option<CapturedError> {
    LAST_PANIC.with(|p| p.borrow_mut().take())
}

/// A panic payload's message: the `&str` or `String` it carries.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_owned()
    }
}

/// A stack frame after resolution.
#[derive(Debug, Clone)]
pub struct ResolvedFrame {
    /// The function's name without the hash suffix, e.g. `quickstart::report::{{closure}}`.
    pub function: String,
    /// The source file as the debug info names it (absolute for the application's code).
    pub file: String,
    /// The line in that file.
    pub line: u32,
    /// The registered `#[monitored]`/`#[profiled]` function this frame falls in, if any: its
    /// name, `file!()` path, first line and source.
    pub registered: Option<&'static EndpointMeta>,
    /// Code from std, the runtime or a dependency, not the application's.
    pub library: bool,
}

/// Frames that belong to capturing itself, at the top of every backtrace: skipped.
const OWN_FRAMES: [&str; 6] = [
    "backtrace::",
    "fmd_core::exception::",
    "std::panicking::",
    "core::panicking::",
    "std::panic::",
    "std::sys::backtrace::",
];

/// fmd's own functions: the monitoring between the runtime and the application's code (the
/// code its attributes generate inside the application's functions is found by [`in_expansion`]).
const FMD_FRAMES: [&str; 6] = [
    "fmd_core::",
    "<fmd_core::",
    "fmd_web::",
    "<fmd_web::",
    "fmd_store::",
    "<fmd_store::",
];

fn is_library_path(file: &str) -> bool {
    // Debug info names the application's files with absolute paths; system libraries' often
    // come relative to where they were built (`./nptl/pthread_create.c`).
    !file.starts_with('/')
        || file.contains("/.cargo/registry/")
        || file.contains("/.cargo/git/")
        || file.contains("/rustc/")
        || file.contains("/.rustup/")
        || file.starts_with("/rustc")
        || file.contains("/library/std/")
        || file.contains("/library/core/")
        || file.contains("/library/alloc/")
}

/// The registered function (if any) whose source spans `line` of `file` (an absolute path from
/// the debug info, or a `file!()` path; registered paths are `file!()`, relative to the
/// workspace root).
pub fn registered_at(file: &str, line: u32) -> Option<&'static EndpointMeta> {
    registered_in(file)
        .filter(|m| {
            let last = m.line + m.source.lines().count().max(1) as u32 - 1;
            (m.line..=last).contains(&line)
        })
        // The innermost: a function defined inside another's span starts later.
        .max_by_key(|m| m.line)
}

/// The registered functions defined in `file` (an absolute path, or a `file!()` path).
fn registered_in(file: &str) -> impl Iterator<Item = &'static EndpointMeta> + '_ {
    endpoints()
        .map(|e| &e.meta)
        .chain(functions().map(|f| &f.meta))
        .filter(|m| m.line > 0 && !m.file.is_empty())
        .filter(move |m| file == m.file || file.ends_with(&format!("/{}", m.file)))
}

/// Whether a frame is code that fmd's attribute generated around a registered function: a
/// closure of that function placed at the attribute, just above the function's first line.
fn in_expansion(function: &str, file: &str, line: u32) -> bool {
    registered_in(file).any(|m| {
        line < m.line
            && line + 10 >= m.line
            && function.contains(&format!("{}::{{{{closure}}}}", m.function))
    })
}

/// Resolves a captured backtrace into frames, innermost first: capturing's own frames dropped,
/// each frame matched to a registered function when its file and line fall in one, library
/// frames marked. Slow (reads debug info): for the writer, not the request path.
pub fn resolve(addresses: &[usize]) -> Vec<ResolvedFrame> {
    let mut frames = Vec::new();
    for &ip in addresses {
        let mut symbols = Vec::new();
        // A return address points after the call: the call's line is the byte before it.
        backtrace::resolve(ip.saturating_sub(1) as *mut std::ffi::c_void, |symbol| {
            symbols.push((
                symbol.name().map(|n| format!("{n:#}")),
                symbol.filename().map(|f| f.display().to_string()),
                symbol.lineno(),
            ));
        });
        for (name, file, line) in symbols {
            let function = name.unwrap_or_else(|| "<unknown>".into());
            let file = file.unwrap_or_default();
            let line = line.unwrap_or(0);
            if frames.is_empty() && OWN_FRAMES.iter().any(|p| function.starts_with(p)) {
                continue;
            }
            let registered = registered_at(&file, line);
            let library = registered.is_none()
                && (is_library_path(&file)
                    || FMD_FRAMES.iter().any(|p| function.starts_with(p))
                    || in_expansion(&function, &file, line));
            frames.push(ResolvedFrame {
                function,
                file,
                line,
                registered,
                library,
            });
        }
    }
    // Below the runtime's entry there is nothing of the application's.
    while frames.last().is_some_and(|f| f.library) {
        frames.pop();
    }
    frames
}

/// The message with its volatile parts replaced, so that errors differing only in ids,
/// numbers or quoted values group together: UUIDs become `<uuid>`, hex numbers and long hex
/// ids `<hex>`, quoted text `"<str>"`/`'<str>'`, other numbers `<n>`.
///
/// ```
/// use fmd_core::exception::normalize_message;
/// assert_eq!(
///     normalize_message("user 42 not found (request 3f2a9c1e-1b2c-4d5e-8f90-123456789abc)"),
///     "user <n> not found (request <uuid>)"
/// );
/// assert_eq!(normalize_message("no key 'alice' at 0x7ffd1234"), "no key '<str>' at <hex>");
/// assert_eq!(normalize_message("timeout after 1.5s"), "timeout after <n>s");
/// assert_eq!(normalize_message("v2 failed"), "v2 failed");
/// ```
pub fn normalize_message(message: &str) -> String {
    let chars: Vec<char> = message.chars().collect();
    let mut out = String::with_capacity(message.len());
    let mut i = 0;
    let word_start = |i: usize| i == 0 || !(chars[i - 1].is_alphanumeric() || chars[i - 1] == '_');
    let word_end = |j: usize| j >= chars.len() || !(chars[j].is_alphanumeric() || chars[j] == '_');
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' {
            if let Some(len) = chars[i + 1..].iter().position(|&q| q == c) {
                // A quote with its closing partner on the same message: a value.
                out.push(c);
                out.push_str("<str>");
                out.push(c);
                i += len + 2;
                continue;
            }
        }
        if word_start(i) {
            if let Some(len) = uuid_at(&chars[i..]).filter(|len| word_end(i + len)) {
                out.push_str("<uuid>");
                i += len;
                continue;
            }
            if c == '0' && chars.get(i + 1) == Some(&'x') {
                let len = chars[i + 2..]
                    .iter()
                    .take_while(|c| c.is_ascii_hexdigit())
                    .count();
                if len > 0 && word_end(i + 2 + len) {
                    out.push_str("<hex>");
                    i += 2 + len;
                    continue;
                }
            }
            let hex = chars[i..]
                .iter()
                .take_while(|c| c.is_ascii_hexdigit())
                .count();
            if hex >= 8 && word_end(i + hex) && chars[i..i + hex].iter().any(|c| c.is_ascii_digit())
            {
                out.push_str("<hex>");
                i += hex;
                continue;
            }
            if c.is_ascii_digit() {
                let mut j = i;
                while j < chars.len()
                    && (chars[j].is_ascii_digit()
                        || (chars[j] == '.'
                            && chars.get(j + 1).is_some_and(|d| d.is_ascii_digit())))
                {
                    j += 1;
                }
                // A number ends the word, or is followed by a unit (`1.5s`, `30ms`).
                if word_end(j) || chars[j].is_alphabetic() {
                    out.push_str("<n>");
                    i = j;
                    continue;
                }
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

/// The length of a UUID (8-4-4-4-12 hex digits) at the start of `chars`.
fn uuid_at(chars: &[char]) -> Option<usize> {
    let groups = [8, 4, 4, 4, 12];
    let mut i = 0;
    for (n, len) in groups.iter().enumerate() {
        if n > 0 {
            if chars.get(i) != Some(&'-') {
                return None;
            }
            i += 1;
        }
        if chars.get(i..i + len)?.iter().all(|c| c.is_ascii_hexdigit()) {
            i += len;
        } else {
            return None;
        }
    }
    Some(i)
}
