use super::*;

fn at(y: i32, m: u32, d: u32, h: u32) -> i64 {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .timestamp_micros()
}

#[test]
fn intervals_follow_the_calendar_in_the_timezone() {
    let tz = chrono_tz::Europe::Amsterdam;
    // Wednesday 2 December 2026, 00:30 in Amsterdam.
    let now = at(2026, 12, 1, 23) + 30 * 60_000_000;
    let ask = |compare: &str| Ask {
        compare: Some(compare.into()),
        ..Ask::default()
    };
    let (b, c) = sides(&ask("day"), now, tz, &[]).unwrap();
    assert_eq!(
        (b.from.as_deref(), c.from.as_deref()),
        (Some("2026-12-01"), Some("2026-12-02"))
    );
    assert_eq!(
        (b.start, b.end, c.end),
        (
            at(2026, 11, 30, 23),
            at(2026, 12, 1, 23),
            at(2026, 12, 2, 23)
        )
    );
    let (b, c) = sides(&ask("week"), now, tz, &[]).unwrap();
    assert_eq!(
        (b.from.as_deref(), b.to.as_deref()),
        (Some("2026-11-23"), Some("2026-11-29"))
    );
    assert_eq!(
        (c.from.as_deref(), c.to.as_deref()),
        (Some("2026-11-30"), Some("2026-12-06"))
    );
    let (b, c) = sides(&ask("month"), now, tz, &[]).unwrap();
    assert_eq!(
        (b.from.as_deref(), b.to.as_deref()),
        (Some("2026-11-01"), Some("2026-11-30"))
    );
    assert_eq!(c.to.as_deref(), Some("2026-12-31"));
    let custom = Ask {
        compare: Some("custom".into()),
        baseline_from: Some("2026-10-01".into()),
        baseline_to: Some("2026-10-03".into()),
        current_from: Some("2026-11-01".into()),
        current_to: Some("2026-11-01".into()),
        ..Ask::default()
    };
    let (b, c) = sides(&custom, now, tz, &[]).unwrap();
    assert_eq!(
        (b.end - b.start, c.end - c.start),
        (3 * 24 * 3_600_000_000, 24 * 3_600_000_000)
    );
    let versions: Vec<String> = ["1.0", "1.1", "2.0"].map(String::from).to_vec();
    let (b, c) = sides(&ask("versions"), now, tz, &versions).unwrap();
    assert_eq!(
        (b.version.as_deref(), c.version.as_deref()),
        (Some("1.1"), Some("2.0"))
    );
    for (asked, wanted) in [
        (ask("year"), "compare must be one of"),
        (
            Ask {
                baseline_to: None,
                ..custom.clone()
            },
            "baseline_from and baseline_to",
        ),
        (
            Ask {
                current_from: Some("soon".into()),
                ..custom
            },
            "current_from must be a day, YYYY-MM-DD, not \"soon\"",
        ),
        (
            Ask {
                baseline_to: Some("2026-02-30".into()),
                ..ask("day")
            },
            "baseline_to must be a day",
        ),
        (
            Ask {
                baseline: Some("0.1".into()),
                ..ask("versions")
            },
            "\"0.1\" has served no request",
        ),
    ] {
        let err = sides(&asked, now, tz, &versions).unwrap_err();
        assert!(err.0.contains(wanted), "{err}");
    }
    assert!(sides(&ask("versions"), now, tz, &versions[..1])
        .unwrap_err()
        .0
        .contains("only one"));
}

#[test]
fn a_slower_current_side_is_significant_and_noise_is_not() {
    let base: Vec<f64> = (0..200).map(|i| 10.0 + f64::from(i % 20) * 0.5).collect();
    let slower: Vec<f64> = base.iter().map(|v| v * 1.3).collect();
    let r = compare_latency((&sorted(base.clone()), 200), (&sorted(slower), 900));
    assert!(r.significant && r.p_value.unwrap() < 1e-6, "{r:?}");
    assert!((r.change_percent.unwrap() - 30.0).abs() < 1e-9);
    assert_eq!((r.baseline.requests, r.current.requests), (200, 900));
    let same = compare_latency((&sorted(base.clone()), 200), (&sorted(base.clone()), 200));
    assert!(!same.significant && same.change_percent == Some(0.0));
    let few = compare_latency((&base[..5], 5), (&base[..100], 100));
    assert_eq!(
        (few.p_value, few.significant),
        (None, false),
        "too few to test"
    );
}

#[test]
fn status_codes_need_a_real_rise_of_more_than_three_points() {
    let r = compare_status(&[(200, 950), (500, 50)], &[(200, 900), (500, 100)]);
    assert!(r.significant && r.tested);
    assert_eq!(r.codes[0].status_code, 500);
    assert!((r.codes[0].change_pp.unwrap() - 5.0).abs() < 1e-9);
    assert!(r.codes[0].p_value.unwrap() < 1e-4);
    assert!(!r.codes[1].significant, "a falling share is no alarm");
    // Five points on a hundred requests a side could be chance.
    let noisy = compare_status(&[(200, 95), (500, 5)], &[(200, 90), (500, 10)]);
    assert!(!noisy.significant, "{noisy:?}");
    assert!(noisy.codes[0].p_value.unwrap() > ALPHA);
    let slight = compare_status(&[(200, 970), (500, 30)], &[(200, 940), (500, 60)]);
    assert!(!slight.significant, "exactly 3 points is not more than 3");
    let new_code = compare_status(&[(200, 1000)], &[(200, 900), (404, 100)]);
    assert!(new_code.significant && new_code.codes[0].status_code == 404);
}

#[test]
fn a_code_rising_from_nothing_is_flagged_on_a_few_requests() {
    // 0 % 500s yesterday (12 requests), 100 % today (10 requests).
    let r = compare_status(&[(200, 12)], &[(500, 10)]);
    assert!(r.significant, "{r:?}");
    assert_eq!(r.codes[0].status_code, 500);
    assert_eq!(r.codes[0].change_pp, Some(100.0));
    // Below eight requests a side nothing is tested.
    let few = compare_status(&[(200, 7)], &[(500, 7)]);
    assert!(!few.tested && !few.significant);
}

#[test]
fn an_empty_side_has_no_shares_and_no_change() {
    let r = compare_status(&[], &[(200, 40), (500, 2)]);
    assert!(!r.tested && !r.significant);
    for code in &r.codes {
        assert_eq!((code.baseline_share, code.change_pp), (None, None));
        assert!(code.current_share.is_some());
    }
    let latency = compare_latency((&[], 0), (&[1.0, 2.0, 3.0], 3));
    assert_eq!((latency.change_percent, latency.p_value), (None, None));
}

#[test]
fn a_version_is_not_compared_with_itself() {
    let versions: Vec<String> = ["1.0", "2.0"].map(String::from).to_vec();
    let ask = Ask {
        compare: Some("versions".into()),
        baseline: Some("2.0".into()),
        current: Some("2.0".into()),
        ..Ask::default()
    };
    let err = sides(&ask, 0, chrono_tz::UTC, &versions).unwrap_err();
    assert!(err.0.contains("pick two different versions"), "{err}");
}

#[test]
fn samples_are_capped_and_repeatable() {
    let values: Vec<i64> = (0..5_000).collect();
    let a = sample_ms(values.clone(), 1);
    assert_eq!(a.len(), SAMPLE);
    assert_eq!(a, sample_ms(values.clone(), 1));
    assert_ne!(a, sample_ms(values, 2));
    assert_eq!(sample_ms(vec![3000, 1000], 1), [1.0, 3.0]);
}
