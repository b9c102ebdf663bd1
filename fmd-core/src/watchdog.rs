//! The outlier watchdog: a thread that looks at the requests of detailed endpoints while they
//! run, and notes where each one was ([`Stuck`](crate::outlier::Stuck)) when it passes its
//! outlier threshold.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::outlier::{sample_cpu_now, system_figures};
use crate::profile::Profile;
use crate::registry::{self, any_detailed};

/// How often the watchdog looks at running requests while some endpoint is at level 2 or 3: a
/// request past its threshold is caught at most this much later.
pub const WATCH_TICK: Duration = Duration::from_millis(5);

/// How often CPU usage is sampled while some endpoint is at level 2 or 3, so a snapshot shows
/// the last second's load rather than the average since the previous outlier.
const CPU_SAMPLE: Duration = Duration::from_secs(1);

static WATCHDOG: OnceLock<SyncSender<Arc<Profile>>> = OnceLock::new();

/// Starts the watchdog thread once per process; later calls do nothing.
pub fn start() -> std::io::Result<()> {
    if WATCHDOG.get().is_some() {
        return Ok(());
    }
    let (tx, rx) = sync_channel(65_536);
    let handle = std::thread::Builder::new()
        .name("fmd-watchdog".into())
        .spawn(move || watch_loop(rx))?;
    // When another caller won the race, this thread's channel is closed and it ends.
    if WATCHDOG.set(tx).is_ok() {
        registry::wake_when_detailed(handle.thread().clone());
    }
    Ok(())
}

/// Hands a request's profile to the watchdog. Never blocks: when the watchdog is behind, the
/// request goes unwatched (it is still judged when it ends).
#[inline]
pub fn watch(profile: &Arc<Profile>) {
    if profile.threshold_us == 0 {
        return;
    }
    if let Some(tx) = WATCHDOG.get() {
        if let Err(TrySendError::Full(_)) = tx.try_send(profile.clone()) {
            log::debug!(target: "fmd", "the outlier watchdog is behind; a request goes unwatched");
        }
    }
}

fn watch_loop(rx: Receiver<Arc<Profile>>) {
    let mut watched: Vec<Arc<Profile>> = Vec::new();
    let mut last_cpu = Instant::now();
    loop {
        // The channel is not waited on: a sender would wake this thread with a system call on
        // every request. Parked on a timer instead, and idle while no endpoint is detailed.
        let active = any_detailed() || !watched.is_empty();
        std::thread::park_timeout(if active { WATCH_TICK } else { CPU_SAMPLE });
        loop {
            match rx.try_recv() {
                Ok(p) => watched.push(p),
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => return,
            }
        }
        watched.retain(|p| !p.is_finished() && matches!(p.endpoint.level(), 2 | 3));
        if any_detailed() && last_cpu.elapsed() >= CPU_SAMPLE {
            sample_cpu_now();
            last_cpu = Instant::now();
        }
        let now = Instant::now();
        let mut figures = None;
        for profile in watched.iter().filter(|p| p.overdue(now)) {
            let figures = figures.get_or_insert_with(system_figures).clone();
            profile.set_stuck(now, figures);
        }
    }
}
