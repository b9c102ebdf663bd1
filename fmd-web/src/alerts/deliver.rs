//! Delivery: one task per channel, so that a slow or failing channel holds up no other and
//! never the request path or the writer. Each task sends its alerts in order, retries a
//! failure with backoff, holds alerts back over the channel's cap and sends them as one digest
//! when the cap allows, and records every attempt in the history.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use fmd_store::{DeliveryRow, Store};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::channels::{Channel, SEND_TIMEOUT};
use super::message::{Alert, Context};
use super::{record_alert, Tuning};

/// An alert for one channel.
pub(crate) struct Job {
    /// Its row in the history, when it could be stored.
    pub(crate) alert_id: Option<i64>,
    pub(crate) alert: Arc<Alert>,
    /// A test: sent at once, whatever the cap, never retried, and its outcome answered here.
    pub(crate) reply: Option<oneshot::Sender<Result<String, String>>>,
}

/// What an attempt came to, as the history names it.
pub(crate) const SENT: &str = "sent";
pub(crate) const FAILED: &str = "failed";
pub(crate) const GAVE_UP: &str = "gave_up";
pub(crate) const HELD: &str = "held";
pub(crate) const DIGESTED: &str = "digested";

struct Worker {
    channel: Arc<Channel>,
    store: Store,
    context: Context,
    tuning: Arc<Tuning>,
    /// When this channel's recent messages went out, oldest first, within the cap's period.
    sent: VecDeque<Instant>,
    /// Alerts over the cap, for the next digest.
    held: Vec<Job>,
    /// Failed jobs, when each is due again and which attempt that will be.
    retries: Vec<(Instant, i32, Job)>,
}

/// Runs a channel's deliveries until every sender of `jobs` is gone.
pub(crate) async fn run(
    channel: Arc<Channel>,
    store: Store,
    context: Context,
    tuning: Arc<Tuning>,
    mut jobs: mpsc::UnboundedReceiver<Job>,
) {
    let mut w = Worker {
        channel,
        store,
        context,
        tuning,
        sent: VecDeque::new(),
        held: Vec::new(),
        retries: Vec::new(),
    };
    loop {
        let wake = w.next_wake();
        tokio::select! {
            job = jobs.recv() => match job {
                Some(job) => w.take(job).await,
                None => return,
            },
            _ = sleep_until(wake) => w.due().await,
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

impl Worker {
    fn full(&mut self, now: Instant) -> bool {
        while self
            .sent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= self.tuning.cap_period)
        {
            self.sent.pop_front();
        }
        self.sent.len() >= self.tuning.cap
    }

    /// The next retry, or the moment the cap lets a digest out.
    fn next_wake(&self) -> Option<Instant> {
        let retry = self.retries.iter().map(|(at, _, _)| *at).min();
        let digest = match self.held.is_empty() {
            true => None,
            false => Some(
                self.sent
                    .front()
                    .map_or_else(Instant::now, |t| *t + self.tuning.cap_period),
            ),
        };
        retry.into_iter().chain(digest).min()
    }

    async fn take(&mut self, job: Job) {
        if job.reply.is_none() && (self.full(Instant::now()) || !self.held.is_empty()) {
            let detail = format!(
                "over this channel's cap of {} in {}: in the next digest",
                self.tuning.cap,
                period(self.tuning.cap_period)
            );
            self.record(job.alert_id, 0, HELD, Some(detail)).await;
            self.held.push(job);
            return;
        }
        self.attempt(job, 1).await;
    }

    async fn due(&mut self) {
        let now = Instant::now();
        let (due, later): (Vec<_>, Vec<_>) = self.retries.drain(..).partition(|r| r.0 <= now);
        self.retries = later;
        for (_, attempt, job) in due {
            self.attempt(job, attempt).await;
        }
        if !self.held.is_empty() && !self.full(Instant::now()) {
            self.digest().await;
        }
    }

    async fn digest(&mut self) {
        let held = std::mem::take(&mut self.held);
        let now = fmd_core::now_micros();
        let titles = held.iter().map(|j| j.alert.title.clone()).collect();
        let alert = self.context.digest(
            titles,
            self.tuning.cap,
            &period(self.tuning.cap_period),
            now,
        );
        let alert_id = record_alert(&self.store, &alert, now).await;
        let detail = alert_id.map(|id| format!("in digest #{id}"));
        for job in &held {
            self.record(job.alert_id, 0, DIGESTED, detail.clone()).await;
        }
        let job = Job {
            alert_id,
            alert: Arc::new(alert),
            reply: None,
        };
        self.attempt(job, 1).await;
    }

    async fn attempt(&mut self, job: Job, attempt: i32) {
        let outcome = tokio::time::timeout(SEND_TIMEOUT * 2, self.channel.send(&job.alert))
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {}", period(SEND_TIMEOUT * 2))));
        let retry = usize::try_from(attempt - 1)
            .ok()
            .and_then(|i| self.tuning.backoff.get(i))
            .filter(|_| job.reply.is_none());
        match &outcome {
            Ok(detail) => {
                self.sent.push_back(Instant::now());
                self.record(job.alert_id, attempt, SENT, Some(detail.clone()))
                    .await;
            }
            Err(why) => {
                log::warn!(
                    target: "fmd",
                    "alert {:?} to {}: attempt {attempt} failed: {why}",
                    job.alert.title,
                    self.channel.label
                );
                let (outcome, detail) = match retry {
                    Some(wait) => (FAILED, format!("{why}; retrying in {}", period(*wait))),
                    // A test is not retried: whoever asked sees the failure at once.
                    None if job.reply.is_some() => (GAVE_UP, why.clone()),
                    None => (GAVE_UP, format!("{why}; no more attempts")),
                };
                self.record(job.alert_id, attempt, outcome, Some(detail))
                    .await;
            }
        }
        match (job.reply, outcome.is_err(), retry) {
            (Some(reply), _, _) => {
                let _ = reply.send(outcome);
            }
            (None, true, Some(wait)) => {
                let job = Job { reply: None, ..job };
                self.retries
                    .push((Instant::now() + *wait, attempt + 1, job));
            }
            _ => {}
        }
    }

    async fn record(
        &self,
        alert_id: Option<i64>,
        attempt: i32,
        outcome: &str,
        detail: Option<String>,
    ) {
        let Some(alert_id) = alert_id else { return };
        let row = DeliveryRow {
            alert_id,
            channel: self.channel.label.clone(),
            attempt,
            time: fmd_core::now_micros(),
            outcome: outcome.into(),
            detail,
        };
        let store = self.store.clone();
        match tokio::task::spawn_blocking(move || store.add_delivery(&row)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => log::warn!(target: "fmd", "cannot record an alert's delivery: {e}"),
            Err(_) => {}
        }
    }
}

/// "10 minutes", "30 s", "1.5 s".
pub(crate) fn period(d: Duration) -> String {
    let s = d.as_secs_f64();
    match s {
        s if s >= 120.0 && s % 60.0 == 0.0 => format!("{} minutes", s / 60.0),
        s if s >= 60.0 && s % 60.0 == 0.0 => "1 minute".into(),
        s => format!("{s} s"),
    }
}
