//! Alerts: new exception groups, error-rate and latency rules per endpoint, delivered to
//! webhooks and email. The `[alerts]` configuration turns it on by naming a channel.
//!
//! - `message`: what an alert says;
//! - `shapes`: the bodies webhooks want, and email's subject and HTML;
//! - `channels`: sending one alert to one webhook or mail server;
//! - `deliver`: a task per channel (retries with backoff, the cap and its digest, the record
//!   of every attempt);
//! - `rules`: evaluating the rules against the database, claiming each change of state so that
//!   instances sharing the database alert once;
//! - here: starting it all, the loop that evaluates, and the test alert.
//!
//! Nothing here runs on the request path or on the writer's thread: the rules read the
//! rollups the writer keeps anyway, from tasks of their own.

use std::sync::Arc;
use std::time::Duration;

use fmd_core::{Config, ConfigError};
use fmd_store::Store;
use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub(crate) mod channels;
pub(crate) mod deliver;
pub(crate) mod message;
pub(crate) mod rules;
pub(crate) mod shapes;
#[cfg(test)]
mod tests;

use channels::Channel;
use deliver::Job;
use message::{Alert, Context};
use rules::Rules;

/// How often the rules run, and the channels' cap and retries.
#[derive(Debug, Clone)]
pub(crate) struct Tuning {
    /// Between looks for new exception groups: a new group alerts within this (plus the
    /// writer's batching) of its first occurrence.
    pub(crate) new_groups_every: Duration,
    /// Between evaluations of the rate and latency rules.
    pub(crate) rules_every: Duration,
    /// Messages a channel sends per `cap_period` at most; more are held for one digest.
    pub(crate) cap: usize,
    pub(crate) cap_period: Duration,
    /// The waits before the second, third, ... attempt of a failed delivery.
    pub(crate) backoff: Vec<Duration>,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            new_groups_every: Duration::from_secs(2),
            rules_every: Duration::from_secs(15),
            cap: 20,
            cap_period: Duration::from_secs(600),
            backoff: [10, 60, 300, 1800].map(Duration::from_secs).to_vec(),
        }
    }
}

/// The running alerts of a dashboard.
pub(crate) struct Alerts {
    pub(crate) channels: Vec<Arc<Channel>>,
    pub(crate) rules: Rules,
    pub(crate) tuning: Arc<Tuning>,
    context: Context,
    store: Store,
    outboxes: Vec<mpsc::UnboundedSender<Job>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
}

impl Alerts {
    /// Starts the channels' workers and the rules' loop on `runtime`; `None` when the
    /// configuration names no channel (alerting is off).
    pub(crate) fn start(
        config: &Config,
        store: &Store,
        runtime: &tokio::runtime::Handle,
        tuning: Tuning,
    ) -> Result<Option<Arc<Alerts>>, ConfigError> {
        let channels = Channel::from_config(config)?;
        if channels.is_empty() {
            return Ok(None);
        }
        if config.dashboard_url.is_none() {
            log::warn!(
                target: "fmd",
                "alerts will link to /{}/... without a host: set [alerts] dashboard_url",
                config.custom_link
            );
        }
        let context = Context {
            base: match &config.dashboard_url {
                Some(url) => url.trim_end_matches('/').to_owned(),
                None => format!("/{}", config.custom_link),
            },
            instance: config.effective_instance_name(),
            tz: config.tz(),
        };
        let tuning = Arc::new(tuning);
        let channels: Vec<Arc<Channel>> = channels.into_iter().map(Arc::new).collect();
        let mut tasks = Vec::new();
        let mut outboxes = Vec::new();
        for channel in &channels {
            let (tx, rx) = mpsc::unbounded_channel();
            outboxes.push(tx);
            tasks.push(runtime.spawn(deliver::run(
                channel.clone(),
                store.clone(),
                context.clone(),
                tuning.clone(),
                rx,
            )));
        }
        let alerts = Arc::new(Alerts {
            channels,
            rules: Rules::from_config(config),
            tuning,
            context,
            store: store.clone(),
            outboxes,
            tasks: Mutex::new(Vec::new()),
        });
        tasks.push(runtime.spawn(evaluate(Arc::downgrade(&alerts))));
        *alerts.tasks.lock() = tasks;
        Ok(Some(alerts))
    }

    /// Stops evaluating and delivering; alerts waiting for a retry or a digest are dropped.
    pub(crate) fn stop(&self) {
        for task in self.tasks.lock().drain(..) {
            task.abort();
        }
    }

    /// Stores `alert` and hands it to every channel.
    async fn raise(&self, alert: Alert) {
        let alert_id = record_alert(&self.store, &alert, fmd_core::now_micros()).await;
        let alert = Arc::new(alert);
        for outbox in &self.outboxes {
            let _ = outbox.send(Job {
                alert_id,
                alert: alert.clone(),
                reply: None,
            });
        }
    }

    /// Sends a test alert through the channel `id` at once (whatever its cap) and waits for
    /// the outcome: `None` when there is no such channel.
    pub(crate) async fn test(&self, id: &str) -> Option<Result<String, String>> {
        let i = self.channels.iter().position(|c| c.id == id)?;
        let now = fmd_core::now_micros();
        let alert = self.context.test(&self.channels[i].label, now);
        let alert_id = record_alert(&self.store, &alert, now).await;
        let (tx, rx) = oneshot::channel();
        let job = Job {
            alert_id,
            alert: Arc::new(alert),
            reply: Some(tx),
        };
        if self.outboxes[i].send(job).is_err() {
            return Some(Err("alerting has stopped".into()));
        }
        Some(
            rx.await
                .unwrap_or_else(|_| Err("alerting has stopped".into())),
        )
    }
}

/// Stores an alert in the history; `None` (and a warning) when the database refuses: the
/// alert still goes out.
pub(crate) async fn record_alert(store: &Store, alert: &Alert, now: i64) -> Option<i64> {
    let store = store.clone();
    let (kind, endpoint_id, title) = (alert.kind.clone(), alert.endpoint_id, alert.title.clone());
    let instance = alert.instance.clone();
    let body = serde_json::to_string(alert).unwrap_or_default();
    let stored = tokio::task::spawn_blocking(move || {
        store.add_alert(&kind, endpoint_id, now, &instance, &title, &body)
    })
    .await;
    match stored {
        Ok(Ok(id)) => Some(id),
        Ok(Err(e)) => {
            log::warn!(target: "fmd", "cannot store alert {:?} in the history: {e}", alert.title);
            None
        }
        Err(_) => None,
    }
}

/// The rules' loop: new groups every `new_groups_every`, rates every `rules_every`, until the
/// alerts are dropped or stopped.
async fn evaluate(alerts: std::sync::Weak<Alerts>) {
    let mut next_rates = tokio::time::Instant::now();
    loop {
        let Some(a) = alerts.upgrade() else { return };
        let rates = tokio::time::Instant::now() >= next_rates;
        if rates {
            next_rates += a.tuning.rules_every;
        }
        let (store, rules, context) = (a.store.clone(), a.rules.clone(), a.context.clone());
        let found = tokio::task::spawn_blocking(move || {
            let now = fmd_core::now_micros();
            let mut alerts = rules.new_groups(&store, &context, now)?;
            if rates {
                alerts.extend(rules.measured(&store, &context, now)?);
            }
            Ok::<_, fmd_store::StoreError>(alerts)
        })
        .await;
        match found {
            Ok(Ok(found)) => {
                for alert in found {
                    a.raise(alert).await;
                }
            }
            // The database is down: the dashboard says so; the next round tries again.
            Ok(Err(e)) => log::debug!(target: "fmd", "alert rules could not be evaluated: {e}"),
            Err(_) => {}
        }
        let wait = a.tuning.new_groups_every;
        drop(a);
        tokio::time::sleep(wait).await;
    }
}
