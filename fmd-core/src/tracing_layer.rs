//! `tracing` spans as profiler spans, and `tracing` warnings and errors kept with their
//! request (feature `tracing`).
//!
//! [`FmdLayer`] is a `tracing_subscriber` layer. A span entered while a monitored request at
//! level 2 or 3 is being polled on the thread becomes a span of that request's profile, exactly
//! as a `#[profiled]` call does: it opens at its first enter, nested in the span current then;
//! while entered it is the span new ones nest in; it ends when `tracing` closes it (its last
//! handle dropped: an instrumented future completed or dropped, an `in_scope` block left).
//! Outside such a request, entering and leaving a span costs one thread-local read, and closing
//! one an atomic load.
//!
//! Events at `WARN` and `ERROR` inside a tracked request (any level from 1) are handed to it;
//! it keeps the last 20 if it turns out to be an outlier or raises an exception.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use parking_lot::RwLock;
use sha2::{Digest, Sha256};
use tracing_core::field::{Field, Visit};
use tracing_core::span::{Attributes, Id};
use tracing_core::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::events::LogEvent;
use crate::profile::{self, Profile};
use crate::registry::{EndpointMeta, Function};

/// The layer: add it to a `tracing_subscriber` registry beside your other layers.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
/// let subscriber = tracing_subscriber::registry().with(fmd_core::tracing_layer::FmdLayer::new());
/// tracing::subscriber::with_default(subscriber, || {
///     tracing::info_span!("outside any request").in_scope(|| ());
/// });
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct FmdLayer {
    _private: (),
}

impl FmdLayer {
    /// The layer.
    pub fn new() -> Self {
        FmdLayer::default()
    }
}

/// What a span that became a profiler span keeps in its extensions.
struct Opened {
    profile: Arc<Profile>,
    id: u32,
    parent: u32,
}

/// Spans holding an [`Opened`]: while none does, closing a span needs no look-up.
static OPENED: AtomicUsize = AtomicUsize::new(0);

/// The profiler's function for each `tracing` callsite, by its metadata's address (one static
/// per callsite), made once and kept for the life of the process like the macros' statics.
static FUNCTIONS: LazyLock<RwLock<HashMap<usize, &'static Function>>> =
    LazyLock::new(Default::default);

fn function_of(metadata: &'static Metadata<'static>) -> &'static Function {
    let key = metadata as *const Metadata<'static> as usize;
    if let Some(function) = FUNCTIONS.read().get(&key) {
        return function;
    }
    FUNCTIONS
        .write()
        .entry(key)
        .or_insert_with(|| Box::leak(Box::new(Function::new(meta_of(metadata)))))
}

/// The description the store keeps of a callsite. `tracing` gives no source text: the
/// function's page shows its file and line. The hash names the callsite, so two spans of one
/// name in different places stay apart.
fn meta_of(metadata: &'static Metadata<'static>) -> EndpointMeta {
    let module_path = metadata.module_path().unwrap_or(metadata.target());
    let file = metadata.file().unwrap_or("<unknown>");
    let line = metadata.line().unwrap_or(0);
    let digest = Sha256::digest(format!(
        "tracing\n{module_path}\n{}\n{file}\n{line}",
        metadata.name()
    ));
    EndpointMeta {
        name: metadata.name(),
        module_path,
        function: metadata.name(),
        file,
        line,
        source: "",
        source_sha256: Box::leak(hex::encode(digest).into_boxed_str()),
    }
}

impl<S> tracing_subscriber::Layer<S> for FmdLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, _: &Attributes<'_>, _: &Id, _: Context<'_, S>) {}

    #[inline]
    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        profile::with_active(|active| enter(active, id, &ctx));
    }

    #[inline]
    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        profile::with_active(|active| {
            let span = ctx.span(id)?;
            let extensions = span.extensions();
            let opened = extensions.get::<Opened>()?;
            Arc::ptr_eq(&opened.profile, active).then(|| profile::set_current(opened.parent))
        });
    }

    #[inline]
    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if OPENED.load(Ordering::Relaxed) == 0 {
            return;
        }
        let Some(span) = ctx.span(&id) else { return };
        let opened = span.extensions_mut().remove::<Opened>();
        if let Some(opened) = opened {
            OPENED.fetch_sub(1, Ordering::Relaxed);
            opened.profile.close(opened.id, false);
        }
    }

    #[inline]
    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        let metadata = event.metadata();
        // WARN and ERROR are the two levels at or below WARN in `tracing`'s order.
        if *metadata.level() > Level::WARN || !crate::capture::in_request() {
            return;
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        crate::capture::event(LogEvent {
            time_us: crate::now_micros(),
            level: if *metadata.level() == Level::ERROR {
                "ERROR"
            } else {
                "WARN"
            },
            target: metadata.target().to_owned(),
            message: fields.message,
            fields: fields.others,
        });
    }
}

#[inline(never)]
fn enter<S>(active: &Arc<Profile>, id: &Id, ctx: &Context<'_, S>) -> Option<()>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let span = ctx.span(id)?;
    let mut extensions = span.extensions_mut();
    if let Some(opened) = extensions.get_mut::<Opened>() {
        // Entered again (the next poll of an instrumented future): current again, if it is
        // this request's.
        if Arc::ptr_eq(&opened.profile, active) {
            profile::set_current(opened.id);
        }
        return Some(());
    }
    let (id, parent) = profile::open_current(active, function_of(span.metadata()))?;
    extensions.insert(Opened {
        profile: Arc::clone(active),
        id,
        parent,
    });
    OPENED.fetch_add(1, Ordering::Relaxed);
    Some(())
}

/// An event's fields as text: `message` apart, the others in order.
#[derive(Default)]
struct Fields {
    message: String,
    others: Vec<(String, String)>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let mut text = String::new();
        let _ = write!(text, "{value:?}");
        self.put(field, text);
    }
}

impl Fields {
    fn put(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = value;
        } else {
            self.others.push((field.name().to_owned(), value));
        }
    }
}
