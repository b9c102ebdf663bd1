//! Alert state in the database, on every backend: a new exception group is claimed once, by
//! one of two instances, and again once deleted and back; rules start and end once, with
//! cooldown; the history keeps alerts with their deliveries.

mod common;

use std::time::Duration;

use fmd_core::exception::CapturedError;
use fmd_core::profile::RequestDetail;
use fmd_core::Sink;
use fmd_store::{DeliveryRow, Store};

use common::*;

const MINUTE: i64 = 60_000_000;

#[derive(Debug)]
struct Broken;

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the pipe broke")
    }
}

impl std::error::Error for Broken {}

#[inline(never)]
fn capture() -> CapturedError {
    CapturedError::from_error(&Broken, "Broken", file!(), line!())
}

fn failing(time: i64, error: CapturedError) -> fmd_core::RequestRecord {
    let mut r = record(&HOME, time, 1_000, 500);
    r.detail = Some(Box::new(RequestDetail {
        exceptions: vec![error],
        ..RequestDetail::default()
    }));
    r
}

#[test]
fn a_new_group_is_claimed_once_across_instances() {
    for db in databases() {
        let (one, two): (Store, Store) = (db.open(), db.open());
        let synced = one.sync_endpoints(&[&HOME], 1, "1").unwrap();
        let mut sink = one
            .sink("1", "one", &synced, 1, Duration::from_secs(1))
            .unwrap();
        let start = fmd_core::now_micros();
        // Captured from one call site, so one stack: one group.
        let mut errors: Vec<CapturedError> = (0..3).map(|_| capture()).collect();
        let mut next = || errors.remove(0);
        sink.write(&[failing(start, next())], &[]).unwrap();

        let seen = two.unannounced_groups(start - MINUTE, 10).unwrap();
        assert_eq!(seen.len(), 1, "{db}");
        let group = &seen[0];
        assert_eq!(
            (group.endpoint.as_str(), group.type_name.as_str()),
            ("home", "Broken"),
            "{db}"
        );
        assert_eq!(group.message, "the pipe broke", "{db}");
        // The time of the capture, in the request.
        assert!(group.first_seen >= start, "{db}");
        // Groups stored before the window are not new.
        let later = fmd_core::now_micros() + MINUTE;
        assert!(
            two.unannounced_groups(later, 10).unwrap().is_empty(),
            "{db}"
        );

        let claims = [
            one.claim_group(group.group_id, start).unwrap(),
            two.claim_group(group.group_id, start).unwrap(),
        ];
        assert_eq!(claims, [true, false], "{db}: exactly one instance sends");
        assert!(one.unannounced_groups(0, 10).unwrap().is_empty(), "{db}");

        // A repeat is no new group; a deleted group that comes back is.
        sink.write(&[failing(start + 1, next())], &[]).unwrap();
        assert!(one.unannounced_groups(0, 10).unwrap().is_empty(), "{db}");
        assert!(one.delete_exception_group(group.group_id).unwrap());
        sink.write(&[failing(start + 2, next())], &[]).unwrap();
        let back = one.unannounced_groups(0, 10).unwrap();
        assert_eq!(back.len(), 1, "{db}");
        assert_ne!(back[0].group_id, group.group_id, "{db}");
        assert!(two.claim_group(back[0].group_id, start).unwrap(), "{db}");
    }
}

#[test]
fn rules_start_and_end_once_with_cooldown() {
    for db in databases() {
        let (one, two): (Store, Store) = (db.open(), db.open());
        let rule = "error_rate";
        let t0 = 1_000 * MINUTE;
        let cooldown = 30 * MINUTE;
        // Starts: announced by one instance only.
        assert_eq!(
            one.rule_holds(rule, 7, t0, t0 - cooldown).unwrap(),
            Some(true)
        );
        assert_eq!(two.rule_holds(rule, 7, t0, t0 - cooldown).unwrap(), None);
        // Still holding a minute later: nothing new, but the hold is recorded.
        let t1 = t0 + MINUTE;
        assert_eq!(one.rule_holds(rule, 7, t1, t1 - cooldown).unwrap(), None);
        // Not held for a whole window (5 min) after t1: not yet at t1 + 4 min.
        let window = 5 * MINUTE;
        let t2 = t1 + 4 * MINUTE;
        assert_eq!(one.rule_resolves(rule, 7, t2, t2 - window).unwrap(), None);
        let t3 = t1 + 6 * MINUTE;
        assert_eq!(
            two.rule_resolves(rule, 7, t3, t3 - window).unwrap(),
            Some(true)
        );
        assert_eq!(one.rule_resolves(rule, 7, t3, t3 - window).unwrap(), None);

        // Holds again within the cooldown of the first alert: firing, but not announced, and
        // so its end is not announced either.
        let t4 = t3 + MINUTE;
        assert_eq!(
            one.rule_holds(rule, 7, t4, t4 - cooldown).unwrap(),
            Some(false)
        );
        let t5 = t4 + 6 * MINUTE;
        assert_eq!(
            one.rule_resolves(rule, 7, t5, t5 - window).unwrap(),
            Some(false)
        );
        // After the cooldown: announced again.
        let t6 = t0 + cooldown + MINUTE;
        assert_eq!(
            one.rule_holds(rule, 7, t6, t6 - cooldown).unwrap(),
            Some(true)
        );

        // Rules of other endpoints and kinds are apart; thresholds are kept with the state.
        assert_eq!(
            one.rule_holds("latency", 7, t6, t6 - cooldown).unwrap(),
            Some(true)
        );
        one.set_alert_threshold(rule, 8, Some(2.5)).unwrap();
        one.set_alert_threshold(rule, 7, Some(0.0)).unwrap();
        let rules = two.alert_rules().unwrap();
        let found: Vec<(&str, i64, Option<f64>, i32)> = rules
            .iter()
            .map(|r| (r.rule.as_str(), r.endpoint_id, r.threshold, r.firing))
            .collect();
        assert_eq!(
            found,
            [
                ("error_rate", 7, Some(0.0), 1),
                ("latency", 7, None, 1),
                ("error_rate", 8, Some(2.5), 0)
            ],
            "{db}"
        );
        one.set_alert_threshold(rule, 8, None).unwrap();
        assert_eq!(two.alert_rules().unwrap()[2].threshold, None, "{db}");
    }
}

#[test]
fn history_keeps_alerts_with_their_deliveries_until_pruned() {
    for db in databases() {
        let store: Store = db.open();
        let now = fmd_core::now_micros();
        let old = store
            .add_alert("test", None, now - 40 * 86_400_000_000, "a", "old", "{}")
            .unwrap();
        let new = store
            .add_alert(
                "error_rate",
                Some(3),
                now,
                "b",
                "Error rate",
                "{\"kind\":\"error_rate\"}",
            )
            .unwrap();
        assert!(new > old, "{db}");
        for (attempt, outcome) in [(1, "failed"), (2, "sent")] {
            store
                .add_delivery(&DeliveryRow {
                    alert_id: new,
                    channel: "webhook 1 (hooks.example.com)".into(),
                    attempt,
                    time: now,
                    outcome: outcome.into(),
                    detail: (attempt == 1).then(|| "HTTP 500".into()),
                })
                .unwrap();
        }
        assert_eq!(store.alert_count().unwrap(), 2, "{db}");
        let listed = store.alerts(0, 1).unwrap();
        let (alert, deliveries) = &listed[0];
        assert_eq!((alert.id, alert.endpoint_id), (new, Some(3)), "{db}");
        let outcomes: Vec<&str> = deliveries.iter().map(|d| d.outcome.as_str()).collect();
        assert_eq!(outcomes, ["failed", "sent"], "{db}");
        assert_eq!(deliveries[0].detail.as_deref(), Some("HTTP 500"), "{db}");

        store.prune(now - 30 * 86_400_000_000).unwrap();
        assert_eq!(
            store.alert_count().unwrap(),
            1,
            "{db}: the old one is pruned"
        );
        assert_eq!(db.rows("alert_delivery"), 2, "{db}");
    }
}
