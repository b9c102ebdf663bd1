//! Running custom graphs: each graph's function runs once at start and then on its schedule,
//! on tokio's blocking pool (so it may do blocking I/O), and each value is stored with its
//! time. A panic or an error is logged and kept for the graph's page; the next run goes on.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;
use std::time::Duration;

use fmd_core::{GraphValue, Schedule};

use super::Inner;

/// How long to wait before trying again to register a graph while the database is down.
const REGISTER_RETRY: Duration = Duration::from_secs(30);

/// What this process knows of one of its graphs' runs.
#[derive(Debug, Clone, Default)]
pub(crate) struct GraphStatus {
    pub(crate) title: String,
    pub(crate) schedule: String,
    /// The database id, once registered.
    pub(crate) id: Option<i64>,
    pub(crate) runs: u64,
    /// When the function last ran, microseconds since the epoch.
    pub(crate) last_run: Option<i64>,
    /// The last run's value.
    pub(crate) last_value: Option<f64>,
    /// The last failure, with its time; cleared by a run that succeeds.
    pub(crate) last_error: Option<(i64, String)>,
    /// When it runs next.
    pub(crate) next_run: Option<i64>,
}

/// Starts a graph's task on the dashboard's runtime.
pub(crate) fn start<F, R>(inner: &Arc<Inner>, title: &str, schedule: Schedule, f: F)
where
    F: Fn() -> R + Send + Sync + 'static,
    R: GraphValue + 'static,
{
    let status = Arc::new(Mutex::new(GraphStatus {
        title: title.to_owned(),
        schedule: schedule.to_string(),
        ..GraphStatus::default()
    }));
    inner.graphs.lock().push(status.clone());
    let weak = Arc::downgrade(inner);
    let task = inner
        .runtime
        .spawn(run(weak, status, schedule, Arc::new(f)));
    inner.graph_tasks.lock().push(task);
}

fn set(status: &Mutex<GraphStatus>, change: impl FnOnce(&mut GraphStatus)) {
    change(&mut status.lock());
}

fn fail(status: &Mutex<GraphStatus>, why: String) {
    let title = status.lock().title.clone();
    log::warn!("fmd: custom graph {title:?}: {why}");
    set(status, |s| {
        s.last_error = Some((fmd_core::now_micros(), why))
    });
}

/// What a panic carried, as text.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

async fn run<F, R>(
    inner: Weak<Inner>,
    status: Arc<Mutex<GraphStatus>>,
    schedule: Schedule,
    f: Arc<F>,
) where
    F: Fn() -> R + Send + Sync + 'static,
    R: GraphValue + 'static,
{
    let title = status.lock().title.clone();
    let id = loop {
        let Some(dashboard) = inner.upgrade() else {
            return;
        };
        let t = title.clone();
        let registered = tokio::task::spawn_blocking(move || {
            dashboard.store.ensure_graph(&t, fmd_core::now_micros())
        })
        .await;
        match registered {
            Ok(Ok(id)) => break id,
            Ok(Err(e)) => fail(
                &status,
                format!("cannot register it in the database ({e}); trying again in 30 s"),
            ),
            Err(_) => return,
        }
        tokio::time::sleep(REGISTER_RETRY).await;
    };
    set(&status, |s| s.id = Some(id));
    loop {
        let g = f.clone();
        let ran = tokio::task::spawn_blocking(move || {
            catch_unwind(AssertUnwindSafe(|| g().graph_value()))
        })
        .await;
        let now = fmd_core::now_micros();
        set(&status, |s| {
            s.runs += 1;
            s.last_run = Some(now);
        });
        match ran {
            Ok(Ok(Ok(value))) => {
                let Some(dashboard) = inner.upgrade() else {
                    return;
                };
                let stored = tokio::task::spawn_blocking(move || {
                    dashboard.store.add_graph_value(id, now, value)
                })
                .await;
                match stored {
                    Ok(Ok(())) => set(&status, |s| {
                        s.last_value = Some(value);
                        s.last_error = None;
                    }),
                    Ok(Err(e)) => fail(&status, format!("cannot store the value {value} ({e})")),
                    Err(_) => return,
                }
            }
            Ok(Ok(Err(why))) => fail(&status, format!("the function failed: {why}")),
            Ok(Err(payload)) => fail(
                &status,
                format!("the function panicked: {}", panic_message(payload)),
            ),
            Err(_) => return,
        }
        let Some(next) = schedule.next_after(chrono::Utc::now()) else {
            set(&status, |s| s.next_run = None);
            return;
        };
        set(&status, |s| s.next_run = Some(next.timestamp_micros()));
        let wait = (next - chrono::Utc::now()).to_std().unwrap_or_default();
        tokio::time::sleep(wait).await;
    }
}
