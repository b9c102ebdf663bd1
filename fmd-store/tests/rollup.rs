//! The hourly rollups the writer keeps: counts exact across partial hours and restarts,
//! percentiles within the histograms' 2.5 % once a window is too large to read exactly, and
//! pruning that keeps rollups and requests in step.

mod common;

use std::time::Duration;

use fmd_core::Sink;
use fmd_store::HOUR;

use common::*;

fn exact(mut v: Vec<f64>, q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let pos = q * (v.len() - 1) as f64;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

#[test]
fn rollups_follow_the_requests() {
    for db in databases() {
        let store = db.open();
        let synced = store.sync_endpoints(&[&HOME], 1, "1").unwrap();
        let now = 1_000 * 24 * HOUR + HOUR / 3;
        // 6,000 requests over three days, in batches that cross hour boundaries, written by two
        // processes of one instance one after the other (the second reads the rows back).
        let mut records = Vec::new();
        for i in 0..6_000i64 {
            let time = now - 72 * HOUR + i * (72 * HOUR / 6_000);
            let duration = 1_000 + (i * 7_919 % 50_000) as u64;
            let status = if i % 17 == 0 { 500 } else { 200 };
            records.push(record(&HOME, time, duration, status));
        }
        for (n, chunk) in records.chunks(700).enumerate() {
            let mut sink = store
                .sink("1", "a", &synced, 1, Duration::from_secs(5))
                .unwrap();
            sink.write(chunk, &[]).unwrap();
            if n % 2 == 0 {
                drop(sink);
            } else {
                // The same process again: updates from its cache.
                sink.write(&[], &[]).unwrap();
            }
        }
        let since = |from: i64| records.iter().filter(move |r| r.time_requested >= from);
        // Windows that start inside an hour, as "today" and "week" do.
        let (today, week) = (now - 5 * HOUR - HOUR / 2, now - 48 * HOUR - 123);
        let row = store.overview(today, week, None).unwrap().pop().unwrap();
        let hits = |from| since(from).count() as i64;
        let errors = |from| since(from).filter(|r| r.status_code >= 400).count() as i64;
        assert_eq!(
            (row.hits_today, row.hits_week, row.hits_overall),
            (hits(today), hits(week), 6_000),
            "{db}"
        );
        assert_eq!(
            (row.errors_today, row.errors_week, row.errors_overall),
            (errors(today), errors(week), errors(i64::MIN)),
            "{db}"
        );
        let ms = |from| {
            since(from)
                .map(|r| r.duration_us as f64 / 1000.0)
                .collect::<Vec<_>>()
        };
        // Today is small: exact. The week and overall come from the histograms.
        assert!(row.hits_today <= 2_000, "{db}");
        assert_eq!(row.median_today_ms, Some(exact(ms(today), 0.5)), "{db}");
        assert_eq!(row.p99_today_ms, Some(exact(ms(today), 0.99)), "{db}");
        for (got, from, q) in [
            (row.median_week_ms, week, 0.5),
            (row.p90_week_ms, week, 0.9),
            (row.p99_overall_ms, i64::MIN, 0.99),
            (row.median_overall_ms, i64::MIN, 0.5),
        ] {
            let want = exact(ms(from), q);
            let got = got.unwrap();
            assert!(
                (got - want).abs() / want < 0.03,
                "{db}: q{q} {got} vs {want}"
            );
        }
        assert_eq!(
            db.rows("request_hour"),
            72 + 1,
            "{db}: one row per hour touched"
        );

        // Pruning rounds up to the hour and takes the rollups of those hours with it.
        let before = now - 24 * HOUR + HOUR / 2;
        store.prune(before).unwrap();
        let cut = fmd_store::hour_of(before) + HOUR;
        let row = store.overview(today, week, None).unwrap().pop().unwrap();
        assert_eq!(row.hits_overall, hits(cut), "{db}");
        assert_eq!(db.rows("request"), hits(cut), "{db}");
        // A writer whose copy of an hour was pruned starts the hour afresh.
        let mut sink = store
            .sink("1", "a", &synced, 1, Duration::from_secs(5))
            .unwrap();
        sink.write(&[record(&HOME, now, 5_000, 200)], &[]).unwrap();
        store.prune(now + 1).unwrap();
        sink.write(&[record(&HOME, now + 2, 5_000, 200)], &[])
            .unwrap();
        let row = store.overview(today, week, None).unwrap().pop().unwrap();
        assert_eq!((row.hits_overall, db.rows("request")), (1, 1), "{db}");
        store.delete_endpoint_data(synced[0].1).unwrap();
        assert_eq!(db.rows("request_hour"), 0, "{db}");
    }
}
