//! What the Alerts page and `GET alerts`, `GET alerts/history` show: channels (secrets
//! hidden), rules and each endpoint's thresholds and state, and the history of alerts with
//! how each delivery went.

use serde::Serialize;

use crate::alerts::deliver::{period, DIGESTED, FAILED, GAVE_UP, HELD, SENT};
use crate::alerts::message::{ERROR_RATE, LATENCY};
use crate::alerts::rules::Rules;
use crate::error::DbError;
use crate::time::rfc3339;
use crate::web::{blocking, Req};

#[derive(Serialize)]
pub(crate) struct ChannelItem {
    pub(crate) id: String,
    pub(crate) kind: &'static str,
    pub(crate) label: String,
    /// A webhook's body shape, or the mail server (password hidden).
    pub(crate) detail: String,
}

#[derive(Serialize)]
pub(crate) struct RulesItem {
    #[serde(flatten)]
    pub(crate) rules: Rules,
    /// Messages per channel per `cap_minutes` before a digest.
    pub(crate) cap_messages: usize,
    pub(crate) cap_minutes: f64,
    /// The waits before each further attempt of a failed delivery, e.g. "10 s, 1 minute, 5
    /// minutes and 30 minutes".
    pub(crate) retries: String,
}

/// "a, b and c".
fn listed(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

/// One endpoint's rate and latency rules.
#[derive(Serialize)]
pub(crate) struct EndpointRulesItem {
    pub(crate) id: i64,
    pub(crate) name: String,
    pub(crate) error_rate: RuleItem,
    pub(crate) latency: RuleItem,
}

#[derive(Serialize)]
pub(crate) struct RuleItem {
    /// The threshold in force (0: off).
    pub(crate) threshold: f64,
    /// An administrator's threshold; `None` follows the configuration.
    pub(crate) custom: Option<f64>,
    /// Whether the rule holds now.
    pub(crate) firing: bool,
    /// Since when it holds, or last stopped holding (RFC 3339), if it ever did.
    pub(crate) since: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct AlertsItem {
    /// Whether a channel is configured.
    pub(crate) enabled: bool,
    pub(crate) channels: Vec<ChannelItem>,
    pub(crate) rules: RulesItem,
    pub(crate) endpoints: Vec<EndpointRulesItem>,
}

/// The Alerts page's top half and `GET alerts`.
pub(crate) async fn alerts_item(req: &Req) -> Result<AlertsItem, DbError> {
    let (endpoints, rows) = blocking(req, |s| Ok((s.endpoints()?, s.alert_rules()?))).await?;
    let alerts = req.inner.alerts.as_deref();
    let rules = alerts
        .map(|a| a.rules.clone())
        .unwrap_or_else(|| Rules::from_config(&req.inner.config));
    let tuning = alerts.map(|a| (*a.tuning).clone()).unwrap_or_default();
    let rule = |name: &str, id: i64| {
        let row = rows.iter().find(|r| r.rule == name && r.endpoint_id == id);
        RuleItem {
            threshold: row
                .and_then(|r| r.threshold)
                .unwrap_or_else(|| rules.default_threshold(name)),
            custom: row.and_then(|r| r.threshold),
            firing: row.is_some_and(|r| r.firing == 1),
            since: row.filter(|r| r.since > 0).map(|r| rfc3339(r.since)),
        }
    };
    Ok(AlertsItem {
        enabled: alerts.is_some(),
        channels: alerts
            .map(|a| {
                a.channels
                    .iter()
                    .map(|c| ChannelItem {
                        id: c.id.clone(),
                        kind: c.kind,
                        label: c.label.clone(),
                        detail: c.detail.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        endpoints: endpoints
            .into_iter()
            .map(|e| EndpointRulesItem {
                error_rate: rule(ERROR_RATE, e.id),
                latency: rule(LATENCY, e.id),
                id: e.id,
                name: e.name,
            })
            .collect(),
        rules: RulesItem {
            rules,
            cap_messages: tuning.cap,
            cap_minutes: tuning.cap_period.as_secs_f64() / 60.0,
            retries: listed(
                &tuning
                    .backoff
                    .iter()
                    .map(|d| period(*d))
                    .collect::<Vec<_>>(),
            ),
        },
    })
}

#[derive(Serialize)]
pub(crate) struct DeliveryItem {
    pub(crate) channel: String,
    pub(crate) attempt: i32,
    pub(crate) time: String,
    pub(crate) outcome: String,
    pub(crate) detail: Option<String>,
}

#[derive(Serialize)]
pub(crate) struct HistoryItem {
    pub(crate) id: i64,
    pub(crate) kind: String,
    pub(crate) endpoint: Option<String>,
    pub(crate) endpoint_id: Option<i64>,
    pub(crate) time: String,
    pub(crate) instance: String,
    pub(crate) title: String,
    pub(crate) text: String,
    pub(crate) url: String,
    /// Over every channel: `sent` (or digested), `retrying`, `held`, `failed` (gave up on a
    /// channel), or `none` (no delivery recorded).
    pub(crate) status: &'static str,
    pub(crate) deliveries: Vec<DeliveryItem>,
}

/// What the history says of an alert, from the last attempt on each channel.
fn status(deliveries: &[fmd_store::DeliveryRow]) -> &'static str {
    let mut last: Vec<(&str, &str)> = Vec::new();
    for d in deliveries {
        match last.iter_mut().find(|(c, _)| *c == d.channel) {
            Some(entry) => entry.1 = &d.outcome,
            None => last.push((&d.channel, &d.outcome)),
        }
    }
    let any = |o: &str| last.iter().any(|(_, x)| *x == o);
    if last.is_empty() {
        "none"
    } else if any(GAVE_UP) {
        "failed"
    } else if any(FAILED) {
        "retrying"
    } else if any(HELD) {
        "held"
    } else if last.iter().all(|(_, o)| [SENT, DIGESTED].contains(o)) {
        "sent"
    } else {
        "none"
    }
}

/// A page of the history, newest first, and how many alerts there are.
pub(crate) async fn history_items(
    req: &Req,
    offset: i64,
    limit: i64,
) -> Result<(i64, Vec<HistoryItem>), DbError> {
    let (total, rows) = blocking(req, move |s| {
        Ok((s.alert_count()?, s.alerts(offset, limit)?))
    })
    .await?;
    let items = rows
        .into_iter()
        .map(|(a, deliveries)| {
            let body: serde_json::Value = serde_json::from_str(&a.body).unwrap_or_default();
            let field = |k: &str| {
                body.get(k)
                    .and_then(|v| v.as_str())
                    .unwrap_or("")
                    .to_owned()
            };
            HistoryItem {
                status: status(&deliveries),
                id: a.id,
                endpoint: body
                    .get("endpoint")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned),
                endpoint_id: a.endpoint_id,
                time: rfc3339(a.created),
                instance: a.instance,
                title: a.title,
                text: field("text"),
                url: field("url"),
                kind: a.kind,
                deliveries: deliveries
                    .into_iter()
                    .map(|d| DeliveryItem {
                        channel: d.channel,
                        attempt: d.attempt,
                        time: rfc3339(d.time),
                        outcome: d.outcome,
                        detail: d.detail,
                    })
                    .collect(),
            }
        })
        .collect();
    Ok((total, items))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(channel: &str, attempt: i32, outcome: &str) -> fmd_store::DeliveryRow {
        fmd_store::DeliveryRow {
            alert_id: 1,
            channel: channel.into(),
            attempt,
            time: 0,
            outcome: outcome.into(),
            detail: None,
        }
    }

    #[test]
    fn an_alerts_status_is_its_channels_last_attempts() {
        let (a, b) = ("webhook 1", "email");
        assert_eq!(status(&[]), "none");
        assert_eq!(
            status(&[attempt(a, 1, FAILED), attempt(a, 2, SENT)]),
            "sent"
        );
        assert_eq!(
            status(&[attempt(a, 1, SENT), attempt(b, 1, FAILED)]),
            "retrying"
        );
        assert_eq!(
            status(&[attempt(a, 4, GAVE_UP), attempt(b, 1, SENT)]),
            "failed"
        );
        assert_eq!(status(&[attempt(a, 0, HELD)]), "held");
        assert_eq!(
            status(&[attempt(a, 0, HELD), attempt(a, 0, DIGESTED)]),
            "sent"
        );
    }

    #[test]
    fn lists_read_as_sentences() {
        let words = |w: &[&str]| listed(&w.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(words(&[]), "");
        assert_eq!(words(&["10 s"]), "10 s");
        assert_eq!(
            words(&["10 s", "1 minute", "5 minutes"]),
            "10 s, 1 minute and 5 minutes"
        );
    }
}
