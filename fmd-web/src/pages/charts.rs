//! The application's charts and the custom graphs.

use http::StatusCode;
use serde_json::json;

use super::{layout, range_choice, render, unavailable};
use crate::auth::Session;
use crate::time::local;
use crate::views::graph_items;
use crate::web::{Reply, Req};

/// The application's charts.
pub(crate) async fn charts(req: &Req, session: &Session) -> Reply {
    let mut data = layout(req, "Charts", Some(session));
    data.insert("nav_charts".into(), json!(true));
    data.insert("charts".into(), json!(true));
    data.insert("range".into(), range_choice(req));
    render(req, "charts", StatusCode::OK, data)
}

/// The custom graphs, each over the chosen range.
pub(crate) async fn graphs(req: &Req, session: &Session) -> Reply {
    let items = match graph_items(req).await {
        Ok(items) => items,
        Err(why) => return unavailable(req, &why),
    };
    let tz = req.inner.config.tz();
    let when = |t: Option<i64>| t.map(|t| local(t, tz));
    let mut data = layout(req, "Custom graphs", Some(session));
    data.insert("nav_graphs".into(), json!(true));
    data.insert("charts".into(), json!(true));
    data.insert("range".into(), range_choice(req));
    // Whole days when the page asks for them; else a range that ends now, by default the
    // shortest that holds every graph's values.
    if req.query_param("from").is_none() && req.query_param("to").is_none() {
        let first = items.iter().map(|g| g.time_added).min().unwrap_or(0);
        data.insert(
            "timeline".into(),
            super::timeline_choice(req, String::new(), "", first, "30d"),
        );
    }
    data.insert(
        "graphs".into(),
        json!(items
            .iter()
            .map(|g| {
                let mut v = json!(g);
                v["last_run_local"] = json!(when(g.last_run));
                v["next_run_local"] = json!(when(g.next_run));
                v["last_error_local"] = json!(when(g.last_error_time));
                v
            })
            .collect::<Vec<_>>()),
    );
    render(req, "graphs", StatusCode::OK, data)
}
