//! The settings pages: status and configuration, users, data.

use http::StatusCode;
use serde_json::json;

use super::endpoints::overview_items;
use super::{error, layout, render, unavailable};
use crate::auth::{Role, Session};
use crate::time::windows;
use crate::views::{sessions_of, status_item, user_item};
use crate::web::{blocking, Reply, Req};

fn duration_text(secs: u64) -> String {
    let (d, h, m) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60);
    match (d, h) {
        (0, 0) => format!("{m} min"),
        (0, _) => format!("{h} h {m} min"),
        _ => format!("{d} d {h} h"),
    }
}

fn size_text(bytes: Option<i64>) -> String {
    match bytes {
        None => "an unknown amount".into(),
        Some(b) if b < 1_048_576 => format!("{:.0} kB", b as f64 / 1024.0),
        Some(b) if b < 1_073_741_824 => format!("{:.1} MB", b as f64 / 1_048_576.0),
        Some(b) => format!("{:.2} GB", b as f64 / 1_073_741_824.0),
    }
}

/// The settings pages: status and configuration, users (administrators only), data.
pub(crate) async fn settings(req: &Req, session: &Session, tab: &str) -> Reply {
    let admin = session.role == Role::Admin;
    if tab == "users" && !admin {
        return error(
            req,
            StatusCode::FORBIDDEN,
            "Only administrators can manage users.",
        );
    }
    let status = match status_item(req).await {
        Ok(s) => s,
        Err(why) => return unavailable(req, &why),
    };
    let mut data = layout(req, "Settings", Some(session));
    data.insert("nav_settings".into(), json!(true));
    data.insert("size".into(), json!(size_text(status.database_size_bytes)));
    let config = &req.inner.config;
    let template = match tab {
        "users" => {
            let now = fmd_core::now_micros();
            let (users, sessions) =
                match blocking(req, move |s| Ok((s.users()?, s.session_counts(now)?))).await {
                    Ok(found) => found,
                    Err(why) => return unavailable(req, &why),
                };
            data.insert(
                "users".into(),
                json!(users
                    .into_iter()
                    .map(|u| {
                        let configured = crate::auth::password_from_config(config, &u.username);
                        let me = u.username == session.username;
                        let mut item = json!(user_item(u, &sessions));
                        item["configured"] = json!(configured);
                        item["me"] = json!(me);
                        item
                    })
                    .collect::<Vec<_>>()),
            );
            if !config.guest_password.is_empty() {
                data.insert(
                    "guest".into(),
                    json!({
                        "username": config.guest_username,
                        "passwords": config.guest_password.len(),
                        "sessions": sessions_of(&sessions, &config.guest_username),
                    }),
                );
            }
            data.insert("tab_users".into(), json!(true));
            "users"
        }
        "data" => {
            let (today, week) = windows(fmd_core::now_micros(), config.tz());
            let rows = match blocking(req, move |s| s.overview(today, week, None)).await {
                Ok(r) => r,
                Err(why) => return unavailable(req, &why),
            };
            let tz = config.tz();
            data.insert("rows".into(), overview_items(&rows, tz));
            let retention = config.data_retention_days;
            data.insert("retention_days".into(), json!(retention));
            data.insert(
                "prune_days".into(),
                json!(if retention > 0 { retention } else { 90 }),
            );
            data.insert("tab_data".into(), json!(true));
            "data"
        }
        _ => {
            let w = &status.writer;
            data.insert("uptime".into(), json!(duration_text(status.uptime_seconds)));
            let dropped = req.inner.recorder.stats.dropped();
            data.insert("dropped".into(), json!(dropped));
            data.insert("writer_problem".into(), json!(w.failing || dropped > 0));
            data.insert(
                "source".into(),
                json!(config.source.as_ref().map(|p| p.display().to_string())),
            );
            data.insert("metrics_public".into(), json!(config.metrics_public));
            data.insert("token_set".into(), json!(config.security_token.is_some()));
            data.insert("tab_status".into(), json!(true));
            "settings"
        }
    };
    data.insert("status".into(), json!(status));
    render(req, template, StatusCode::OK, data)
}
