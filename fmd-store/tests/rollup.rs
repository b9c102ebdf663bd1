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

/// Timelines: every bucket present, counts exact, percentiles from the minute rollups within
/// the histograms' 2.5 %, the hourly ones for hour buckets, one endpoint or instance at a time.
#[test]
fn timelines_read_minute_and_hour_rollups() {
    const MINUTE: i64 = fmd_store::MINUTE;
    for db in databases() {
        let store = db.open();
        let synced = store.sync_endpoints(&[&HOME, &OTHER], 1, "1").unwrap();
        let (home, other) = (synced[0].1, synced[1].1);
        let start = 2_000 * 24 * HOUR;
        // Two hours of traffic: HOME every 6 s on instance a, durations growing through each
        // minute, one error in ten; OTHER on instance b in the second hour only.
        let mut a_records = Vec::new();
        let mut b_records = Vec::new();
        for i in 0..1_200i64 {
            let time = start + i * 6_000_000 + 17;
            let duration = 1_000 * (1 + (i % 10) as u64) * (1 + (i / 600) as u64);
            let status = if i % 10 == 9 { 500 } else { 200 };
            a_records.push(record(&HOME, time, duration, status));
            if i >= 600 {
                b_records.push(record(&OTHER, time, 40_000, 404));
            }
        }
        let mut a = store
            .sink("1", "a", &synced, 1, Duration::from_secs(5))
            .unwrap();
        for chunk in a_records.chunks(333) {
            a.write(chunk, &[]).unwrap();
        }
        let mut b = store
            .sink("1", "b", &synced, 1, Duration::from_secs(5))
            .unwrap();
        b.write(&b_records, &[]).unwrap();
        assert_eq!(db.rows("request_minute"), 120 + 60, "{db}");

        // A range that starts and ends inside minutes gets the whole minutes it touches.
        let filter =
            Filter::endpoint(home).between(start + 30 * MINUTE + 5, start + 40 * MINUTE + 1);
        let minutes = store.timeline(&filter, MINUTE).unwrap();
        assert_eq!(minutes.len(), 11, "{db}");
        assert_eq!(minutes[0].time, start + 30 * MINUTE, "{db}");
        for b in &minutes {
            // Ten requests a minute, 1 to 10 ms, the tenth an error.
            assert_eq!((b.hits, b.errors), (10, 1), "{db}");
            for (got, want) in [(b.p50_ms, 5.0), (b.p95_ms, 9.0), (b.p99_ms, 9.0)] {
                let got = got.unwrap();
                assert!((got - want).abs() / want < 0.03, "{db}: {got} vs {want}");
            }
        }

        // All endpoints, five-minute buckets over the second hour and one empty bucket after.
        let filter = Filter::all().between(start + HOUR, start + 2 * HOUR + 5 * MINUTE);
        let fives = store.timeline(&filter, 5 * MINUTE).unwrap();
        assert_eq!(fives.len(), 13, "{db}");
        assert!(
            fives[..12].iter().all(|b| (b.hits, b.errors) == (100, 55)),
            "{db}: {fives:?}"
        );
        assert_eq!((fives[12].hits, fives[12].p50_ms), (0, None), "{db}");
        // Half the requests take 40 ms (OTHER), half 2 to 20 ms.
        let p95 = fives[0].p95_ms.unwrap();
        assert!((p95 - 40.0).abs() / 40.0 < 0.03, "{db}: {p95}");

        // One instance only.
        let b_id = store
            .instances()
            .unwrap()
            .into_iter()
            .find(|i| i.name == "b")
            .unwrap()
            .id;
        let only_b = store
            .timeline(&filter.on_instance(Some(b_id)), 5 * MINUTE)
            .unwrap();
        assert!(
            only_b[..12].iter().all(|b| (b.hits, b.errors) == (50, 50)),
            "{db}"
        );

        // Hour buckets come from the hourly rollups and agree with the minutes.
        let hours = store
            .timeline(&Filter::all().between(start - HOUR, start + 2 * HOUR), HOUR)
            .unwrap();
        assert_eq!(
            hours.iter().map(|b| (b.hits, b.errors)).collect::<Vec<_>>(),
            [(0, 0), (600, 60), (1_200, 660)],
            "{db}"
        );
        let p99 = hours[2].p99_ms.unwrap();
        assert!((p99 - 40.0).abs() / 40.0 < 0.03, "{db}: {p99}");
        let other_hours = store
            .timeline(
                &Filter::endpoint(other).between(start, start + 2 * HOUR),
                HOUR,
            )
            .unwrap();
        assert_eq!(other_hours[1].hits, 600, "{db}");

        // Buckets that are not whole minutes, or too many, are refused with what is accepted.
        let err = store.timeline(&filter, 90_000_000).unwrap_err().to_string();
        assert!(err.contains("whole minutes"), "{db}: {err}");
        let err = store
            .timeline(&Filter::all().between(0, 20_000 * HOUR), HOUR)
            .unwrap_err()
            .to_string();
        assert!(err.contains("at most"), "{db}: {err}");

        // An endpoint's data goes with its minutes; pruning drops minutes older than two days.
        store.delete_endpoint_data(other).unwrap();
        assert_eq!(db.rows("request_minute"), 120, "{db}");
        store.prune(start).unwrap();
        assert_eq!(
            db.rows("request_minute"),
            0,
            "{db}: these minutes are years old"
        );
        assert_eq!(
            db.rows("request_hour"),
            2,
            "{db}: hours stay with their requests"
        );
    }
}
