//! The hourly rollups the writer keeps: counts exact across partial hours and restarts,
//! percentiles within the histograms' 2.5 % once a window is too large to read exactly, and
//! pruning that keeps rollups and requests in step.

mod common;

use fmd_store::Filter;
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

#[test]
fn chart_queries_read_rollups_and_rows() {
    for db in databases() {
        let store = db.open();
        let synced = store.sync_endpoints(&[&HOME, &OTHER], 1, "1").unwrap();
        let home = synced[0].1;
        let day = 1_000 * 24 * HOUR;
        // Version 1 the first hour, version 2 the second; one instance each.
        let first: Vec<_> = (0..10)
            .map(|i| record(&HOME, day + i * 60_000_000, 1_000 * (i as u64 + 1), 200))
            .collect();
        let mut second: Vec<_> = (0..5)
            .map(|i| record(&HOME, day + HOUR + i, 50_000, if i < 2 { 503 } else { 200 }))
            .collect();
        second.push(record(&OTHER, day + HOUR, 7_000, 404));
        second[0].group_by = Some("(User,9)".into());
        let mut a = store
            .sink("1", "a", &synced, 1, Duration::from_secs(5))
            .unwrap();
        a.write(&first, &[]).unwrap();
        let mut b = store
            .sink("2", "b", &synced, 1, Duration::from_secs(5))
            .unwrap();
        b.write(&second, &[]).unwrap();

        let counts = store
            .hour_counts(&Filter::all().between(day, day + 2 * HOUR))
            .unwrap();
        let mine: Vec<_> = counts.iter().filter(|c| c.endpoint_id == home).collect();
        assert_eq!(
            mine.iter()
                .map(|c| (c.hour_start - day, c.version.as_str(), c.hits, c.errors))
                .collect::<Vec<_>>(),
            [(0, "1", 10, 0), (HOUR, "2", 5, 2)],
            "{db}"
        );
        assert_eq!(counts.len(), 3, "{db}");
        assert_eq!(
            store
                .hour_counts(&Filter::endpoint(home).between(day + HOUR, day + 2 * HOUR))
                .unwrap()
                .len(),
            1,
            "{db}"
        );

        let histograms = store
            .histograms(&Filter::endpoint(home).between(day, day + 2 * HOUR))
            .unwrap();
        assert_eq!(histograms.len(), 2, "{db}");
        let v1 = histograms[0].2.box_stats().unwrap();
        assert_eq!(
            (histograms[0].1.as_str(), v1.count, v1.min_ms, v1.max_ms),
            ("1", 10, 1.0, 10.0),
            "{db}"
        );

        let (samples, total) = store
            .samples(
                &Filter::endpoint(home).between(day + HOUR, day + 2 * HOUR),
                1_000,
            )
            .unwrap();
        assert_eq!((samples.len(), total), (5, 5), "{db}");
        // Beyond the limit: every n-th, here every third of the 15.
        let (sampled, total) = store
            .samples(&Filter::endpoint(home).between(day, day + 2 * HOUR), 5)
            .unwrap();
        assert_eq!(total, 15, "{db}");
        assert!(
            (4..=6).contains(&sampled.len()),
            "{} rows: {db}",
            sampled.len()
        );
        assert_eq!(
            samples
                .iter()
                .filter(|s| s.group_by.as_deref() == Some("(User,9)"))
                .count(),
            1,
            "{db}"
        );
        assert!(
            samples
                .iter()
                .all(|s| s.version_requested == "2" && s.duration_us == 50_000),
            "{db}"
        );

        let codes = |version| {
            store
                .status_counts(
                    &Filter::endpoint(home).between(day, day + 2 * HOUR),
                    version,
                )
                .unwrap()
        };
        assert_eq!(codes(None), [(200, 13), (503, 2)], "{db}");
        assert_eq!(codes(Some("2")), [(200, 3), (503, 2)], "{db}");
        let (v1, total) = store
            .durations(
                &Filter::endpoint(home).between(day, day + 2 * HOUR),
                Some("1"),
                1_000,
            )
            .unwrap();
        assert_eq!((v1.len(), total), (10, 10), "{db}");
        assert_eq!(v1.iter().sum::<i64>(), 55_000, "{db}");
        let (few, total) = store
            .durations(
                &Filter::endpoint(home).between(day, day + 2 * HOUR),
                None,
                2,
            )
            .unwrap();
        assert_eq!(total, 15, "{db}");
        assert!((2..=8).contains(&few.len()), "{} of 15: {db}", few.len());
        assert_eq!(
            store
                .versions()
                .unwrap()
                .into_iter()
                .map(|(v, h)| (v, h - day))
                .collect::<Vec<_>>(),
            [("1".to_owned(), 0), ("2".to_owned(), HOUR)],
            "{db}"
        );
        let errors = store
            .error_requests(&Filter::endpoint(home).between(day, day + 2 * HOUR), 50)
            .unwrap();
        assert_eq!(errors.len(), 2, "{db}");
        assert!(
            errors
                .iter()
                .all(|r| r.status_code == 503 && r.instance.as_deref() == Some("b")),
            "{db}"
        );
        assert!(
            errors[0].time_requested >= errors[1].time_requested,
            "newest first: {db}"
        );
    }
}
