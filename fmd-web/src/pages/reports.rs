//! The reports page.

use http::StatusCode;
use serde_json::{json, Value};

use super::{layout, ms, render, unavailable};
use crate::auth::Session;
use crate::views::{compute_report, report_ask};
use crate::web::{Reply, Req};

fn percent_change(v: Option<f64>) -> String {
    match v {
        Some(v) => format!("{v:+.1} %"),
        None => "–".into(),
    }
}

/// The report page: the comparison form and, per endpoint, the evidence and both sides' box
/// plots.
pub(crate) async fn reports(req: &Req, session: &Session) -> Reply {
    let ask = report_ask(req);
    let (report, versions) = match compute_report(req, ask.clone()).await {
        Ok(found) => found,
        Err(why) => return unavailable(req, &why),
    };
    let (report, error) = match report {
        Ok(r) => (Some(r), None),
        Err(why) => (None, Some(why)),
    };
    let mut data = layout(req, "Reports", Some(session));
    data.insert("nav_reports".into(), json!(true));
    data.insert("charts".into(), json!(true));
    let compare = ask.compare.clone().unwrap_or_else(|| "day".into());
    data.insert(
        "comparisons".into(),
        json!(crate::reports::COMPARISONS.map(
            |(value, label)| json!({"value": value, "label": label, "selected": value == compare})
        )),
    );
    let (default_baseline, default_current) = crate::reports::default_versions(&versions);
    let baseline = ask.baseline.as_ref().or(default_baseline);
    let current = ask.current.as_ref().or(default_current);
    data.insert(
        "versions".into(),
        json!(versions
            .iter()
            .rev()
            .map(|v| json!({
                "name": v,
                "baseline": Some(v) == baseline,
                "current": Some(v) == current,
            }))
            .collect::<Vec<_>>()),
    );
    data.insert(
        "ask".into(),
        json!({
            "baseline_from": ask.baseline_from,
            "baseline_to": ask.baseline_to,
            "current_from": ask.current_from,
            "current_to": ask.current_to,
        }),
    );
    data.insert("error".into(), json!(error));
    if let Some(r) = report {
        let items: Vec<Value> = r
            .endpoints
            .iter()
            .map(|e| {
                let l = &e.latency;
                json!({
                    "id": e.id,
                    "name": e.name,
                    "significant": e.significant,
                    "latency": l,
                    "slower": l.change_percent.is_some_and(|c| c > 0.0),
                    "change": percent_change(l.change_percent),
                    "p_value": l.p_value.map_or("not tested (fewer than 8 requests a side)".into(), |p| {
                        if p < 0.0001 { "< 0.0001".to_owned() } else { format!("{p:.4}") }
                    }),
                    "baseline_median": ms(l.baseline.median_ms),
                    "current_median": ms(l.current.median_ms),
                    "not_enough_data": e.verdict == crate::reports::Verdict::NotEnoughData,
                    "baseline_requests": e.latency.baseline.requests,
                    "current_requests": e.latency.current.requests,
                    "status_alarms": e.status.codes.iter().filter(|c| c.significant).map(|c| json!({
                        "status_code": c.status_code, "change": shown(c.change_pp, |v| format!("{v:.1}")),
                    })).collect::<Vec<_>>(),
                    "codes": e.status.codes.iter().map(|c| json!({
                        "status_code": c.status_code,
                        "class": c.status_code / 100,
                        "baseline": shown(c.baseline_share, |v| format!("{v:.1} %")),
                        "current": shown(c.current_share, |v| format!("{v:.1} %")),
                        "change": shown(c.change_pp, |v| format!("{v:+.1}")),
                        "significant": c.significant,
                    })).collect::<Vec<_>>(),
                    "pair_json": serde_json::to_string(&json!({
                        "labels": [r.baseline.label, r.current.label],
                        "boxes": [l.baseline.boxed, l.current.boxed],
                    })).unwrap_or_default(),
                })
            })
            .collect();
        data.insert(
            "significant_count".into(),
            json!(r.endpoints.iter().filter(|e| e.significant).count()),
        );
        data.insert("endpoint_total".into(), json!(items.len()));
        data.insert(
            "untested_count".into(),
            json!(r
                .endpoints
                .iter()
                .filter(|e| e.verdict == crate::reports::Verdict::NotEnoughData)
                .count()),
        );
        data.insert("endpoints".into(), json!(items));
        let mut report = json!(r);
        report["baseline_span"] = json!(r.baseline.from != r.baseline.to);
        report["current_span"] = json!(r.current.from != r.current.to);
        data.insert("report".into(), report);
    }
    render(req, "reports", StatusCode::OK, data)
}

/// A share or change as the report shows it, `–` when a side has nothing to compare.
fn shown(value: Option<f64>, format: impl Fn(f64) -> String) -> String {
    value.map_or_else(|| "–".to_owned(), format)
}
