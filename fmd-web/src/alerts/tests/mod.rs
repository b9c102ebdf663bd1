//! Alerts with real parts: a webhook receiver on loopback, a real SMTP server (Python's
//! `aiosmtpd`, skipped with a message when missing outside CI), and a SQLite database shared
//! by two "instances".

use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use fmd_core::exception::CapturedError;
use fmd_core::profile::RequestDetail;
use fmd_core::{Config, Endpoint, EndpointMeta, RequestRecord, Sink};
use fmd_store::{SqlSink, Store, MINUTE};
use parking_lot::Mutex;
use serde_json::Value;

use super::message::{Context, ERROR_RATE, LATENCY};
use super::rules::Rules;
use super::{Alerts, Tuning};

mod email;

static SHOP: Endpoint = Endpoint::new(EndpointMeta {
    name: "checkout",
    module_path: "alerts::tests",
    function: "checkout",
    file: "src/alerts/tests.rs",
    line: 1,
    source: "fn checkout() {}",
    source_sha256: "00000000000000000000000000000000000000000000000000000000000000a1",
});

static QUIET: Endpoint = Endpoint::new(EndpointMeta {
    name: "quiet",
    module_path: "alerts::tests",
    function: "quiet",
    file: "src/alerts/tests.rs",
    line: 2,
    source: "fn quiet() {}",
    source_sha256: "00000000000000000000000000000000000000000000000000000000000000a2",
});

/// An HTTP server on loopback that takes webhook POSTs: the first `fail_first` get a 500.
struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
    calls: Arc<AtomicUsize>,
}

impl Receiver {
    async fn start(fail_first: usize) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let calls = Arc::new(AtomicUsize::new(0));
        let (b, c) = (bodies.clone(), calls.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |body: bytes::Bytes| {
                let (b, c) = (b.clone(), c.clone());
                async move {
                    if c.fetch_add(1, Ordering::SeqCst) < fail_first {
                        return (http::StatusCode::INTERNAL_SERVER_ERROR, "down for a moment");
                    }
                    b.lock().push(serde_json::from_slice(&body).unwrap());
                    (http::StatusCode::OK, "ok")
                }
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Receiver { url, bodies, calls }
    }

    fn kinds(&self) -> Vec<String> {
        self.bodies
            .lock()
            .iter()
            .map(|b| b["kind"].as_str().unwrap_or("?").to_owned())
            .collect()
    }

    /// Waits up to `limit` for `n` bodies.
    async fn wait_for(&self, n: usize, limit: Duration) {
        let end = tokio::time::Instant::now() + limit;
        while self.bodies.lock().len() < n && tokio::time::Instant::now() < end {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

pub(super) fn quick() -> Tuning {
    Tuning {
        new_groups_every: Duration::from_millis(50),
        rules_every: Duration::from_secs(3600),
        cap: 20,
        cap_period: Duration::from_secs(600),
        backoff: vec![Duration::from_millis(50); 3],
    }
}

pub(super) struct Db {
    _dir: tempfile::TempDir,
    url: String,
}

impl Db {
    pub(super) fn new() -> Db {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("fmd.db").display());
        Db { _dir: dir, url }
    }

    pub(super) fn store(&self) -> Store {
        Store::open(&self.url, "fmd_").unwrap()
    }

    pub(super) fn sink(&self, store: &Store) -> SqlSink {
        let synced = store.sync_endpoints(&[&SHOP, &QUIET], 1, "1").unwrap();
        store
            .sink("1", "test", &synced, 1, Duration::from_secs(2))
            .unwrap()
    }
}

fn request(endpoint: &'static Endpoint, time: i64, ms: u64, status: u16) -> RequestRecord {
    RequestRecord {
        endpoint,
        time_requested: time,
        duration_us: ms * 1000,
        status_code: status,
        ip: Some(IpAddr::from([127, 0, 0, 1])),
        group_by: None,
        detail: None,
    }
}

#[derive(Debug)]
struct OutOfStock;

impl std::fmt::Display for OutOfStock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("item 42 is out of stock")
    }
}

impl std::error::Error for OutOfStock {}

/// Errors captured at one call site: one stack, so one exception group.
pub(super) fn errors(n: usize) -> Vec<CapturedError> {
    (0..n)
        .map(|_| CapturedError::from_error(&OutOfStock, "OutOfStock", file!(), line!()))
        .collect()
}

pub(super) fn failing(error: CapturedError) -> RequestRecord {
    let mut r = request(&SHOP, fmd_core::now_micros(), 3, 500);
    r.detail = Some(Box::new(RequestDetail {
        exceptions: vec![error],
        ..RequestDetail::default()
    }));
    r
}

pub(super) fn config(instance: &str, hooks: Vec<String>) -> Config {
    Config::default()
        .instance_name(instance)
        .webhook_urls(hooks)
        .dashboard_url("https://shop.example.com/dashboard")
}

pub(super) fn start(config: &Config, store: &Store, tuning: Tuning) -> Arc<Alerts> {
    let runtime = tokio::runtime::Handle::current();
    Alerts::start(config, store, &runtime, tuning)
        .unwrap()
        .expect("a channel is configured")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_group_alerts_once_across_instances_and_again_after_deletion() {
    let db = Db::new();
    let hook = Receiver::start(0).await;
    let (one, two) = (db.store(), db.store());
    let mut sink = db.sink(&one);
    let a = start(&config("one", vec![hook.url.clone()]), &one, quick());
    let b = start(&config("two", vec![hook.url.clone()]), &two, quick());
    let mut errors = errors(3);

    let stored = std::time::Instant::now();
    sink.write(&[failing(errors.remove(0))], &[]).unwrap();
    hook.wait_for(1, Duration::from_secs(10)).await;
    let took = stored.elapsed();
    assert!(took < Duration::from_secs(10), "alerted after {took:?}");
    // Both instances look again a few times: still one.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(hook.kinds(), ["new_exception"]);
    let body = hook.bodies.lock()[0].clone();
    assert_eq!(body["endpoint"], "checkout");
    assert_eq!(body["type"], "OutOfStock");
    assert_eq!(body["message"], "item 42 is out of stock");
    let group = body["group_id"].as_i64().unwrap();
    assert_eq!(
        body["url"],
        format!("https://shop.example.com/dashboard/endpoint/1/exceptions#group-{group}")
    );
    assert!(body["text"]
        .as_str()
        .unwrap()
        .starts_with("New exception in `checkout`: OutOfStock: item 42 is out of stock"));

    // A repeat alerts nobody.
    sink.write(&[failing(errors.remove(0))], &[]).unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(hook.kinds().len(), 1);

    // Deleted, and back: a new group, one more alert.
    assert!(one.delete_exception_group(group).unwrap());
    sink.write(&[failing(errors.remove(0))], &[]).unwrap();
    hook.wait_for(2, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(hook.kinds(), ["new_exception", "new_exception"]);

    // The history has both, each delivered once.
    let history = one.alerts(0, 10).unwrap();
    assert_eq!(history.len(), 2);
    for (alert, deliveries) in &history {
        assert_eq!(alert.kind, "new_exception");
        let outcomes: Vec<&str> = deliveries.iter().map(|d| d.outcome.as_str()).collect();
        assert_eq!(outcomes, ["sent"], "{alert:?}");
        assert!(deliveries[0]
            .channel
            .starts_with("webhook 1 (http://127.0.0.1:"));
    }
    a.stop();
    b.stop();
}

#[test]
fn rates_alert_with_hysteresis_and_cooldown() {
    let db = Db::new();
    let store = db.store();
    let mut sink = db.sink(&store);
    let rules = Rules {
        new_exception: false,
        error_rate_percent: 10.0,
        latency_p95_ms: 0.0,
        window_minutes: 5,
        min_requests: 20,
        cooldown_minutes: 30,
    };
    let context = Context {
        base: "/dashboard".into(),
        instance: "one".into(),
        tz: chrono_tz::UTC,
    };
    // A whole minute in the past, so that every minute below is complete.
    let t0 = (fmd_core::now_micros() / MINUTE - 120) * MINUTE;
    let burst = |sink: &mut SqlSink, at: i64, errors: usize| {
        let records: Vec<RequestRecord> = (0..40)
            .map(|i| request(&SHOP, at + i, 5, if i < errors as i64 { 500 } else { 200 }))
            .collect();
        sink.write(&records, &[]).unwrap();
    };
    let kinds = |at: i64| -> Vec<String> {
        rules
            .measured(&store, &context, at)
            .unwrap()
            .into_iter()
            .map(|a| format!("{} {}", a.kind, a.endpoint.unwrap_or_default()))
            .collect()
    };
    let min = |m: i64| t0 + m * MINUTE;

    // 2 errors in 40 (5 %): nothing. 20 in 40 more (27.5 % of 80): an alert, once.
    burst(&mut sink, min(0), 2);
    assert!(kinds(min(0) + 30_000_000).is_empty());
    burst(&mut sink, min(0) + 1_000, 20);
    assert_eq!(kinds(min(0) + 40_000_000), ["error_rate checkout"]);
    assert!(
        kinds(min(0) + 50_000_000).is_empty(),
        "still holding: no repeat"
    );
    // Still in the window three minutes on; out of it from minute 5 (no requests: it no longer
    // holds), but resolved only once it has not held for a whole window.
    assert!(kinds(min(3)).is_empty());
    assert!(kinds(min(5)).is_empty());
    assert!(kinds(min(7)).is_empty());
    assert_eq!(kinds(min(9)), ["resolved checkout"]);
    assert!(kinds(min(9) + 1).is_empty());

    // Holds again within the cooldown of the first alert: nobody is told, nor of its end.
    burst(&mut sink, min(10), 30);
    assert!(kinds(min(10) + 1).is_empty());
    assert!(kinds(min(20)).is_empty());
    // After the cooldown, it alerts again.
    burst(&mut sink, min(40), 30);
    assert_eq!(kinds(min(40) + 1), ["error_rate checkout"]);
    assert_eq!(kinds(min(50)), ["resolved checkout"]);

    // Latency: off by default, on for `quiet` by an administrator's threshold; fewer requests
    // than `min_requests` alert nobody.
    store.set_alert_threshold(LATENCY, 2, Some(100.0)).unwrap();
    let slow: Vec<RequestRecord> = (0..10)
        .map(|i| request(&QUIET, min(60) + i, 900, 200))
        .collect();
    sink.write(&slow, &[]).unwrap();
    assert!(kinds(min(60) + 1).is_empty());
    sink.write(&slow, &[]).unwrap();
    let alerts = rules.measured(&store, &context, min(60) + 2).unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (alerts[0].kind.as_str(), alerts[0].title.as_str()),
        ("latency", "p95 latency of quiet is 900 ms")
    );
    assert_eq!(alerts[0].threshold, Some(100.0));
    // A rule switched off while it holds ends like any other: after a whole window.
    store.set_alert_threshold(LATENCY, 2, Some(0.0)).unwrap();
    assert!(kinds(min(61)).is_empty());
    assert_eq!(kinds(min(70)), ["resolved quiet"]);
    // Switched off, nothing alerts: an error burst on `checkout` with its rule at 0.
    store.set_alert_threshold(ERROR_RATE, 1, Some(0.0)).unwrap();
    burst(&mut sink, min(80), 40);
    assert!(kinds(min(80) + 1).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn over_the_cap_alerts_wait_for_one_digest() {
    let db = Db::new();
    let store = db.store();
    let hook = Receiver::start(0).await;
    let tuning = Tuning {
        cap: 3,
        cap_period: Duration::from_secs(3),
        ..quick()
    };
    let alerts = start(&config("one", vec![hook.url.clone()]), &store, tuning);
    for i in 0..7 {
        let alert = alerts
            .context
            .test(&format!("channel {i}"), fmd_core::now_micros());
        alerts.raise(alert).await;
    }
    hook.wait_for(3, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        hook.kinds(),
        ["test", "test", "test"],
        "the cap holds the rest"
    );
    hook.wait_for(4, Duration::from_secs(10)).await;
    assert_eq!(hook.kinds(), ["test", "test", "test", "digest"]);
    let digest = hook.bodies.lock()[3].clone();
    assert_eq!(digest["alerts"].as_array().unwrap().len(), 4);
    assert!(digest["text"]
        .as_str()
        .unwrap()
        .starts_with("4 more alerts were held back: this channel had its 3 messages in 3 s."));

    let history = store.alerts(0, 20).unwrap();
    assert_eq!(history.len(), 8, "seven alerts and the digest");
    let outcomes = |(_, d): &(fmd_store::AlertRow, Vec<fmd_store::DeliveryRow>)| {
        d.iter()
            .map(|d| d.outcome.clone())
            .collect::<Vec<_>>()
            .join(",")
    };
    let mut seen: Vec<String> = history.iter().map(outcomes).collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            "held,digested",
            "held,digested",
            "held,digested",
            "held,digested",
            "sent",
            "sent",
            "sent",
            "sent"
        ]
    );
    alerts.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_channel_is_retried_and_every_attempt_recorded() {
    let db = Db::new();
    let store = db.store();
    let flaky = Receiver::start(2).await;
    // Nothing listens there: every attempt fails.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/gone", l.local_addr().unwrap())
    };
    let alerts = start(
        &config("one", vec![flaky.url.clone(), closed]),
        &store,
        quick(),
    );
    let alert = alerts.context.test("both", fmd_core::now_micros());
    alerts.raise(alert).await;
    flaky.wait_for(1, Duration::from_secs(5)).await;
    assert_eq!(
        flaky.calls.load(Ordering::SeqCst),
        3,
        "two failures, then through"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

    let (_, deliveries) = store.alerts(0, 1).unwrap().remove(0);
    let of = |channel: &str| -> Vec<(i32, String)> {
        deliveries
            .iter()
            .filter(|d| d.channel.starts_with(channel))
            .map(|d| (d.attempt, d.outcome.clone()))
            .collect()
    };
    let two = |n: i32, s: &str| (n, s.to_owned());
    assert_eq!(
        of("webhook 1"),
        [two(1, "failed"), two(2, "failed"), two(3, "sent")]
    );
    assert_eq!(
        of("webhook 2"),
        [
            two(1, "failed"),
            two(2, "failed"),
            two(3, "failed"),
            two(4, "gave_up")
        ]
    );
    let first = deliveries
        .iter()
        .find(|d| d.channel.starts_with("webhook 1"))
        .unwrap();
    assert_eq!(
        first.detail.as_deref(),
        Some("HTTP 500: down for a moment; retrying in 0.05 s")
    );
    alerts.stop();
}

#[test]
fn no_channel_no_alerts_and_secrets_stay_out_of_labels() {
    let store_dir = Db::new();
    let store = store_dir.store();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let handle = runtime.handle().clone();
    let off = Alerts::start(&Config::default(), &store, &handle, quick()).unwrap();
    assert!(off.is_none(), "no channel: alerting is off");

    let config = Config::default()
        .webhook_urls(vec![
            "https://hooks.slack.com/services/T000/B000/SECRETPATH".into(),
            "https://discord.com/api/webhooks/1/SECRETTOKEN".into(),
        ])
        .email_to(vec!["ops@example.com".into()])
        .smtp_url("smtp://fmd:SECRETPASS@mail.example.com:587");
    let _guard = runtime.enter();
    let on = Alerts::start(&config, &store, &handle, quick())
        .unwrap()
        .unwrap();
    let shown: Vec<String> = on
        .channels
        .iter()
        .map(|c| format!("{} {} {} {}", c.id, c.kind, c.label, c.detail))
        .collect();
    assert_eq!(
        shown,
        [
            "webhook-1 webhook webhook 1 (https://hooks.slack.com) JSON (Slack, Mattermost)",
            "webhook-2 webhook webhook 2 (https://discord.com) Discord",
            "email email email to ops@example.com smtp://fmd:***@mail.example.com:587",
        ]
    );
    let settings = format!("{:?}", config.entries());
    for secret in ["SECRETPATH", "SECRETTOKEN", "SECRETPASS"] {
        assert!(!settings.contains(secret), "{settings}");
    }
    on.stop();
}
