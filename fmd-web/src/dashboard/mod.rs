//! The `Dashboard`'s life: start-up (database, endpoints, writer, watchdog, alerts), levels,
//! custom graphs, daily retention, flush and shutdown. The adapters that serve it live apart.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use std::thread::JoinHandle;
use std::time::Duration;

use fmd_core::writer::{self, WriterOptions};
use fmd_core::{registry, Config, Endpoint, Recorder, WriterMsg};
use fmd_store::Store;

use crate::alerts::{Alerts, Tuning};
use crate::templates::Templates;
use crate::track::Tracker;
use crate::{auth, Error};

pub(crate) mod graphs;

/// How long a writer statement waits for a lock held by another connection before the write
/// counts as failed and is retried later.
const WRITER_BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// The running dashboard: the database, the background writer, and the web routes.
///
/// Cheap to clone; every clone is the same dashboard.
#[derive(Clone)]
pub struct Dashboard {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard")
            .field("store", &self.inner.store)
            .field("version", &self.inner.version)
            .finish()
    }
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    pub(crate) store: Store,
    pub(crate) recorder: Arc<Recorder>,
    pub(crate) version: String,
    /// Endpoints of this binary by database id, to apply level changes in memory.
    pub(crate) by_id: HashMap<i64, &'static Endpoint>,
    pub(crate) auth: auth::Auth,
    pub(crate) templates: Templates,
    /// When this process started, for the settings page's uptime.
    pub(crate) started: std::time::Instant,
    /// The runtime `new` ran on, for custom graphs' tasks.
    pub(crate) runtime: tokio::runtime::Handle,
    /// This process's custom graphs and how their runs went.
    pub(crate) graphs: Mutex<Vec<Arc<Mutex<graphs::GraphStatus>>>>,
    /// Request tracking, shared by every adapter's app.
    pub(crate) tracker: Arc<Tracker>,
    pub(crate) graph_tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    /// Alerting, when the configuration names a channel.
    pub(crate) alerts: Option<Arc<Alerts>>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

impl Dashboard {
    /// Opens the database (running pending migrations), registers every `#[monitored]`
    /// endpoint of the binary, loads their levels and starts the background writer.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), fmd_web::Error> {
    /// let dir = tempfile::tempdir()?;
    /// let config = fmd_core::Config::default()
    ///     .database(format!("sqlite://{}", dir.path().join("fmd.db").display()))
    ///     .password("s3cret");
    /// let dashboard = fmd_web::Dashboard::new(config).await?;
    /// assert_eq!(dashboard.path(), "/dashboard");
    /// dashboard.shutdown().await?;
    /// # Ok(()) }
    /// ```
    pub async fn new(config: Config) -> Result<Dashboard, Error> {
        config.validate()?;
        match tokio::task::spawn_blocking(move || Dashboard::start(config)).await {
            Ok(result) => result,
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }

    fn start(config: Config) -> Result<Dashboard, Error> {
        if let Some((a, b)) = registry::duplicate_names() {
            return Err(Error::DuplicateEndpoint {
                name: a.meta.name.to_owned(),
                first: format!("{}:{}", a.meta.file, a.meta.line),
                second: format!("{}:{}", b.meta.file, b.meta.line),
            });
        }
        let version = fmd_core::version::resolve(&config);
        let mut store = Store::open(&config.database, &config.table_prefix)?;
        store.set_capture_source(config.capture_source);
        let endpoints: Vec<&'static Endpoint> = registry::endpoints().collect();
        let synced = store.sync_endpoints(&endpoints, config.monitor_level, &version)?;
        store.seed_means(&synced)?;
        fmd_core::outlier::configure(
            config.outlier_detection_constant,
            config.outlier_min_samples,
        );
        fmd_core::outlier::configure_scrubbing(&config.scrub_headers, &config.scrub_query_params);
        fmd_core::watchdog::start()?;
        fmd_core::capture::install_panic_hook();
        let auth = auth::Auth::start(&config, &store)?;
        let sink = store.sink(
            &version,
            &config.effective_instance_name(),
            &synced,
            config.monitor_level,
            WRITER_BUSY_TIMEOUT,
        )?;
        let (recorder, rx) = Recorder::new(config.queue_capacity);
        let options = WriterOptions {
            backlog_capacity: config.backlog_capacity,
            enable_logging: config.enable_logging,
            ..WriterOptions::default()
        };
        let handle = writer::spawn(sink, rx, recorder.clone(), options)?;
        // Levels go live only once the writer runs, so no request is measured into a void.
        for (endpoint, _, level) in &synced {
            endpoint.set_level(*level);
        }
        fmd_core::queue::set_default(Some(recorder.clone()));
        let runtime = tokio::runtime::Handle::current();
        let alerts = Alerts::start(&config, &store, &runtime, Tuning::default())?;
        let inner = Inner {
            tracker: Arc::new(Tracker::new(&config, recorder.clone())),
            templates: Templates::new(),
            by_id: synced.iter().map(|(e, id, _)| (*id, *e)).collect(),
            config,
            store,
            recorder,
            version,
            auth,
            started: std::time::Instant::now(),
            runtime,
            alerts,
            graphs: Mutex::new(Vec::new()),
            graph_tasks: Mutex::new(Vec::new()),
            writer: Mutex::new(Some(handle)),
        };
        let inner = Arc::new(inner);
        if inner.config.data_retention_days > 0 {
            let weak = Arc::downgrade(&inner);
            std::thread::Builder::new()
                .name("fmd-retention".into())
                .spawn(move || retention(weak))?;
        }
        Ok(Dashboard { inner })
    }

    /// Waits until everything recorded so far is in the database. Fails when the database is
    /// unavailable; the records stay queued (up to `backlog_capacity`) and are written when it
    /// returns.
    ///
    /// ```no_run
    /// # async fn run(dashboard: fmd_web::Dashboard) -> Result<(), fmd_web::Error> {
    /// dashboard.flush().await?; // e.g. before reading the database in a test
    /// # Ok(()) }
    /// ```
    pub async fn flush(&self) -> Result<(), Error> {
        self.control(WriterMsg::Flush).await
    }

    /// Writes everything recorded so far, then stops the writer. Requests after this are not
    /// recorded. Call it after the server has stopped:
    ///
    /// ```no_run
    /// # async fn run(dashboard: fmd_web::Dashboard) -> Result<(), fmd_web::Error> {
    /// # let app = warp::any().map(|| "x");
    /// use warp::Filter;
    /// let listener = tokio::net::TcpListener::bind(("127.0.0.1", 8080)).await?;
    /// warp::serve(dashboard.bind(warp::path::end().and(app)))
    ///     .incoming(listener)
    ///     .graceful(async { let _ = tokio::signal::ctrl_c().await; })
    ///     .run()
    ///     .await;
    /// dashboard.shutdown().await?;
    /// # Ok(()) }
    /// ```
    pub async fn shutdown(&self) -> Result<(), Error> {
        for task in self.inner.graph_tasks.lock().drain(..) {
            task.abort();
        }
        if let Some(alerts) = &self.inner.alerts {
            alerts.stop();
        }
        let result = self.control(WriterMsg::Shutdown).await;
        fmd_core::queue::clear_default(&self.inner.recorder);
        let handle = self.inner.writer.lock().take();
        if let Some(handle) = handle {
            let _ = tokio::task::spawn_blocking(move || handle.join()).await;
        }
        result
    }

    async fn control(
        &self,
        msg: fn(tokio::sync::oneshot::Sender<Result<(), String>>) -> WriterMsg,
    ) -> Result<(), Error> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let recorder = self.inner.recorder.clone();
        // The queue may be full: wait for room off the async threads.
        let sent = tokio::task::spawn_blocking(move || recorder.send_control(msg(tx)))
            .await
            .unwrap_or(false);
        if !sent {
            return Ok(()); // The writer has stopped: everything it could write is written.
        }
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(why)) => Err(Error::Unwritten(why)),
            Err(_) => Ok(()),
        }
    }

    /// Sets an endpoint's monitoring level, as the overview's select does: stored, and in
    /// effect from the next request. Use it to start a demo or a test at a given level; a
    /// service that sets it on every start overrides what its dashboard users chose.
    ///
    /// ```no_run
    /// # async fn run(dashboard: fmd_web::Dashboard) -> Result<(), fmd_web::Error> {
    /// dashboard.set_level("report", 3).await?; // profile every request of `report`
    /// # Ok(()) }
    /// ```
    pub async fn set_level(&self, endpoint: &str, level: u8) -> Result<(), Error> {
        if level > 3 {
            return Err(Error::BadLevel(format!(
                "level {level} does not exist: use 0, 1, 2 or 3"
            )));
        }
        let Some((id, e)) = self
            .inner
            .by_id
            .iter()
            .find(|(_, e)| e.meta.name == endpoint)
            .map(|(id, e)| (*id, *e))
        else {
            return Err(Error::BadLevel(format!(
                "no monitored endpoint is named {endpoint:?}"
            )));
        };
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || inner.store.set_level(id, level))
            .await
            .map_err(|e| Error::Io(std::io::Error::other(e)))??;
        e.set_level(level);
        Ok(())
    }

    /// Adds a custom graph: `f` runs once now and then on `schedule`, on a thread where it may
    /// block (a database query, a file read), and every value it returns is stored with its
    /// time and drawn on the dashboard's "Custom graphs" page. A panic or an error it returns
    /// is logged and shown on that page; the next run goes on as scheduled.
    ///
    /// Every instance that adds a graph of the same title adds values to that one graph.
    ///
    /// ```no_run
    /// # async fn run(dashboard: fmd_web::Dashboard) -> Result<(), fmd_core::ScheduleError> {
    /// use std::time::Duration;
    /// use fmd_core::Schedule;
    /// dashboard.add_graph("Files in /tmp", Schedule::every(Duration::from_secs(300)), || {
    ///     std::fs::read_dir("/tmp").map(|d| d.count())
    /// });
    /// dashboard.add_graph("Hourly answer", Schedule::cron("0 0 * * * *")?, || 42);
    /// # Ok(()) }
    /// ```
    pub fn add_graph<F, R>(&self, title: &str, schedule: fmd_core::Schedule, f: F)
    where
        F: Fn() -> R + Send + Sync + 'static,
        R: fmd_core::GraphValue + 'static,
    {
        graphs::start(&self.inner, title, schedule, f);
    }

    /// The version requests are recorded under.
    pub fn version(&self) -> &str {
        &self.inner.version
    }

    /// The dashboard's path prefix, e.g. `/dashboard`.
    pub fn path(&self) -> String {
        format!("/{}", self.inner.config.custom_link)
    }

    /// Counters of the background writer: written, dropped, backlog.
    pub fn writer_stats(&self) -> &fmd_core::WriterStats {
        &self.inner.recorder.stats
    }
}

/// How long after start-up the first daily prune runs: out of the way of start-up's own work.
const FIRST_PRUNE: std::time::Duration = std::time::Duration::from_secs(60);

/// Deletes data older than `data_retention_days`, a minute after start and then daily, until
/// the dashboard is dropped. Deletes go in batches, so the writer is never held up for long.
fn retention(inner: std::sync::Weak<Inner>) {
    let day = std::time::Duration::from_secs(86_400);
    let mut next = std::time::Instant::now() + FIRST_PRUNE;
    loop {
        // Wakes every few seconds to notice that the dashboard is gone.
        std::thread::sleep(std::time::Duration::from_secs(5));
        let Some(inner) = inner.upgrade() else { return };
        if std::time::Instant::now() < next {
            continue;
        }
        next += day;
        let days = i64::from(inner.config.data_retention_days);
        let before = fmd_core::now_micros() - days * 86_400_000_000;
        match inner.store.prune(before) {
            Ok(0) => {}
            Ok(n) => log::info!(target: "fmd", "deleted {n} requests older than {days} days"),
            Err(e) => log::warn!(target: "fmd", "pruning data older than {days} days failed: {e}"),
        }
    }
}
