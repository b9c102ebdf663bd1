use super::*;

const AMS: Tz = chrono_tz::Europe::Amsterdam;

fn at(y: i32, m: u32, d: u32, h: u32) -> i64 {
    use chrono::TimeZone;
    chrono::Utc
        .with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .timestamp_micros()
}

fn count(endpoint_id: i64, hour_start: i64, version: &str, hits: i64) -> HourCount {
    HourCount {
        endpoint_id,
        hour_start,
        version: version.into(),
        hits,
        errors: 0,
    }
}

#[test]
fn ranges_default_to_the_last_week_and_refuse_nonsense() {
    let now = at(2026, 11, 21, 23); // 00:00 on the 22nd in Amsterdam
    let r = Range::parse(None, None, now, AMS).unwrap();
    assert_eq!(
        (r.from.to_string(), r.to.to_string()),
        ("2026-11-16".into(), "2026-11-22".into())
    );
    assert_eq!(r.start, at(2026, 11, 15, 23));
    assert_eq!(r.end, at(2026, 11, 22, 23));
    assert_eq!(r.days().len(), 7);
    let one = Range::parse(Some("2026-03-29"), Some("2026-03-29"), now, AMS).unwrap();
    assert_eq!(
        one.end - one.start,
        23 * 3_600_000_000,
        "the day DST starts has 23 hours"
    );
    for (from, to, wanted) in [
        (Some("yesterday"), None, "from must be a date"),
        (None, Some("2026-13-01"), "to must be a date"),
        (Some("2026-11-22"), Some("2026-11-21"), "is after to"),
        (Some("2020-01-01"), Some("2026-01-01"), "at most 366"),
    ] {
        let err = Range::parse(from, to, now, AMS).unwrap_err();
        assert!(err.0.contains(wanted), "{err}");
    }
}

#[test]
fn hourly_cells_use_the_local_hour_and_day() {
    let r = Range::parse(Some("2026-11-20"), Some("2026-11-21"), 0, AMS).unwrap();
    let counts = [
        count(1, at(2026, 11, 19, 23), "1", 4), // 00:00 on the 20th
        count(2, at(2026, 11, 19, 23), "1", 1),
        count(1, at(2026, 11, 21, 12), "1", 2), // 13:00 on the 21st
        count(1, at(2026, 11, 21, 23), "1", 9), // the 22nd: outside
    ];
    let v = hourly(&r, &counts);
    assert_eq!(v["cells"], json!([[0, 0, 5], [13, 1, 2]]));
    assert_eq!((v["max"].clone(), v["total"].clone()), (json!(5), json!(7)));
}

fn endpoint(id: i64, name: &str) -> EndpointRow {
    EndpointRow {
        id,
        name: name.into(),
        module_path: String::new(),
        file: String::new(),
        line: 0,
        monitor_level: 1,
        time_added: 0,
        version_added: String::new(),
        last_requested: None,
    }
}

#[test]
fn daily_stacks_per_endpoint_and_shares_per_version() {
    let endpoints = [endpoint(1, "index"), endpoint(2, "search")];
    let colors = BTreeMap::from([("index".to_owned(), [255, 0, 16])]);
    let names = Names::new(&endpoints, &colors);
    let r = Range::parse(Some("2026-11-20"), Some("2026-11-21"), 0, chrono_tz::UTC).unwrap();
    let counts = [
        count(1, at(2026, 11, 20, 1), "1.0", 3),
        count(2, at(2026, 11, 20, 2), "1.0", 10),
        count(2, at(2026, 11, 21, 2), "1.1", 30),
        count(1, at(2026, 11, 21, 5), "1.1", 1),
    ];
    let d = daily(&r, &counts, &names);
    assert_eq!(d["series"][0]["name"], "search", "busiest first");
    assert_eq!(d["series"][0]["hits"], json!([10, 30]));
    assert_eq!(d["series"][1]["hits"], json!([3, 1]));
    assert_eq!(d["series"][1]["color"], "#ff0010", "configured colour");
    assert_eq!(d["series"][0]["color"], color("search", &BTreeMap::new()));
    let v = version_shares(&r, &counts, &names);
    assert_eq!(v["versions"], json!(["1.0", "1.1"]));
    assert_eq!(v["endpoints"][0]["shares"], json!([75.0, 25.0]));
    assert_eq!(v["endpoints"][1]["shares"], json!([25.0, 75.0]));
}

#[test]
fn colours_are_stable_and_differ() {
    let none = BTreeMap::new();
    assert_eq!(color("index", &none), color("index", &none));
    assert_ne!(color("index", &none), color("search", &none));
    assert!(color("index", &none).starts_with('#') && color("index", &none).len() == 7);
    assert_eq!(hsl_hex(0.0, 1.0, 0.5), "#ff0000");
    assert_eq!(hsl_hex(240.0, 1.0, 0.5), "#0000ff");
}

fn sample(user: Option<&str>, ip: &str, version: &str, ms: i64) -> Sample {
    Sample {
        group_by: user.map(str::to_owned),
        ip: Some(ip.into()),
        version_requested: version.into(),
        duration_us: ms * 1000,
    }
}

#[test]
fn users_get_exact_boxes_and_version_medians() {
    let r = Range::parse(Some("2026-11-20"), Some("2026-11-21"), 0, chrono_tz::UTC).unwrap();
    let mut samples: Vec<Sample> = (1..=5)
        .map(|ms| sample(Some("ann"), "10.0.0.1", "1", ms))
        .collect();
    samples.push(sample(Some("bob"), "10.0.0.2", "2", 40));
    samples.push(sample(None, "10.0.0.2", "2", 7));
    let u = user_boxes(&r, &samples, 7);
    assert_eq!(u["users"][0]["name"], "ann");
    assert_eq!(u["users"][0]["median_ms"], 3.0);
    assert_eq!(u["users"][0]["q1_ms"], 2.0);
    assert_eq!(u["users"][1]["count"], 1);
    assert_eq!(u["ungrouped"], 1);
    let counts = [
        count(1, at(2026, 11, 20, 1), "1", 5),
        count(1, at(2026, 11, 21, 1), "2", 2),
    ];
    assert_eq!(
        (u["requests"].clone(), u["sampled"].clone()),
        (json!(7), json!(false))
    );
    let k = key_versions(&r, &counts, &samples, 70, Key::Ip);
    assert_eq!(
        (
            k["requests"].clone(),
            k["sample_size"].clone(),
            k["sampled"].clone()
        ),
        (json!(70), json!(7), json!(true))
    );
    assert_eq!(k["versions"], json!(["1", "2"]));
    assert_eq!(k["keys"], json!(["10.0.0.1", "10.0.0.2"]));
    assert_eq!(k["points"], json!([[0, 0, 3.0, 5], [1, 1, 23.5, 2]]));
}

#[test]
fn boxes_show_the_slowest_beyond_their_whiskers() {
    let r = Range::parse(Some("2026-11-20"), Some("2026-11-21"), 0, chrono_tz::UTC).unwrap();
    // Forty requests of 10-13 ms and seven stalls of a second or more.
    let mut samples: Vec<Sample> = (0..40)
        .map(|i| sample(Some("ann"), "10.0.0.1", "1", 10 + i % 4))
        .collect();
    for ms in [1_000, 1_100, 1_200, 1_300, 1_400, 1_500, 1_600] {
        samples.push(sample(Some("ann"), "10.0.0.1", "1", ms));
    }
    let u = user_boxes(&r, &samples, 47);
    let ann = &u["users"][0];
    assert!(ann["high_ms"].as_f64().unwrap() < 20.0, "{ann}");
    assert_eq!(
        ann["beyond_ms"],
        json!([1600.0, 1500.0, 1400.0, 1300.0, 1200.0]),
        "the five slowest, slowest first"
    );
    // From a histogram: the maximum and the high percentiles beyond the whisker.
    let mut h = fmd_store::Histogram::default();
    for i in 0..1_000u64 {
        h.add(if i % 100 == 0 { 1_500_000 } else { 10_000 + i });
    }
    h.add(3_000_000);
    let v = version_boxes(
        &r,
        &[count(1, at(2026, 11, 20, 1), "1", 1_001)],
        vec![(1, "1".into(), h)],
    );
    let beyond = v["versions"][0]["beyond_ms"].as_array().unwrap().clone();
    assert_eq!(beyond[0], 3000.0, "the maximum, exact: {v}");
    assert!(
        beyond.len() >= 2 && beyond[1].as_f64().unwrap() > 1_000.0,
        "{v}"
    );
    // Without a tail nothing lies beyond.
    let even: Vec<Sample> = (0..10)
        .map(|i| sample(Some("bob"), "10.0.0.2", "1", 10 + i))
        .collect();
    assert_eq!(
        user_boxes(&r, &even, 10)["users"][0]["beyond_ms"],
        json!([])
    );
}
