//! What an alert says: one struct, which is the generic webhook body as is (and what the
//! history keeps), written for people: a title and a paragraph with the link to the evidence.

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::time::{local, rfc3339};

/// The kinds of alert, as the webhook body's `kind` names them.
pub(crate) const NEW_EXCEPTION: &str = "new_exception";
pub(crate) const ERROR_RATE: &str = "error_rate";
pub(crate) const LATENCY: &str = "latency";
pub(crate) const RESOLVED: &str = "resolved";
pub(crate) const TEST: &str = "test";
pub(crate) const DIGEST: &str = "digest";

/// One alert. Serialized, it is the generic webhook body (`text`, `kind`, `endpoint`, `url`,
/// and the fields of its kind) and what the history keeps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Alert {
    /// One paragraph for people; Slack and Mattermost show it as is.
    pub(crate) text: String,
    /// `new_exception`, `error_rate`, `latency`, `resolved`, `test` or `digest`.
    pub(crate) kind: String,
    /// The endpoint's name.
    pub(crate) endpoint: Option<String>,
    /// The page with the evidence.
    pub(crate) url: String,
    /// One line: the email's subject, a card's title.
    pub(crate) title: String,
    /// When it was raised, RFC 3339 UTC.
    pub(crate) time: String,
    /// The instance that raised it.
    pub(crate) instance: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) endpoint_id: Option<i64>,
    /// A new exception's type and message.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub(crate) type_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) message: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) group_id: Option<i64>,
    /// For `resolved`: the rule that stopped holding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rule: Option<String>,
    /// The measured error rate (%) or p95 (ms), the threshold, the window and its requests.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) value: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) threshold: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) window_minutes: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) requests: Option<i64>,
    /// For `digest`: the titles of the alerts it stands for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) alerts: Option<Vec<String>>,
}

/// Where links in alerts point and whose clock they read.
#[derive(Debug, Clone)]
pub(crate) struct Context {
    /// `dashboard_url`, or the dashboard's path when it is not set.
    pub(crate) base: String,
    pub(crate) instance: String,
    pub(crate) tz: Tz,
}

impl Context {
    fn alert(&self, kind: &str, now: i64, title: String, text: String, url: String) -> Alert {
        Alert {
            text,
            kind: kind.into(),
            endpoint: None,
            url,
            title,
            time: rfc3339(now),
            instance: self.instance.clone(),
            endpoint_id: None,
            type_name: None,
            message: None,
            group_id: None,
            rule: None,
            value: None,
            threshold: None,
            window_minutes: None,
            requests: None,
            alerts: None,
        }
    }

    fn endpoint_url(&self, endpoint_id: i64, tab: &str) -> String {
        format!("{}/endpoint/{endpoint_id}{tab}", self.base)
    }

    /// A new exception group.
    pub(crate) fn new_exception(&self, group: &fmd_store::NewGroup, now: i64) -> Alert {
        let message = first_line(&group.message, 300);
        let title = format!("New exception in {}: {}", group.endpoint, group.type_name);
        let url = format!(
            "{}#group-{}",
            self.endpoint_url(group.endpoint_id, "/exceptions"),
            group.group_id
        );
        let text = format!(
            "New exception in `{}`: {}: {message} (first seen {}). {url}",
            group.endpoint,
            group.type_name,
            local(group.first_seen, self.tz),
        );
        Alert {
            endpoint: Some(group.endpoint.clone()),
            endpoint_id: Some(group.endpoint_id),
            type_name: Some(group.type_name.clone()),
            message: Some(group.message.clone()),
            group_id: Some(group.group_id),
            ..self.alert(NEW_EXCEPTION, now, title, text, url)
        }
    }

    /// A rate or latency rule that started to hold.
    pub(crate) fn rule_holds(&self, m: &Measure<'_>, now: i64) -> Alert {
        let (title, text) = match m.rule {
            ERROR_RATE => (
                format!("Error rate of {} is {:.1}%", m.endpoint, m.value),
                format!(
                    "Error rate of `{}` is {:.1}% over the last {} ({} of {} requests answered \
                     with an error), above the {}% threshold.",
                    m.endpoint,
                    m.value,
                    minutes(m.window_minutes),
                    m.errors,
                    m.requests,
                    number(m.threshold),
                ),
            ),
            _ => (
                format!("p95 latency of {} is {:.0} ms", m.endpoint, m.value),
                format!(
                    "p95 latency of `{}` is {:.0} ms over the last {} ({} requests), above the \
                     {} ms threshold.",
                    m.endpoint,
                    m.value,
                    minutes(m.window_minutes),
                    m.requests,
                    number(m.threshold),
                ),
            ),
        };
        let url = self.endpoint_url(m.endpoint_id, "");
        let text = format!("{text} {url}");
        self.measured(m, self.alert(m.rule, now, title, text, url))
    }

    /// A rule that has not held for a whole window.
    pub(crate) fn resolved(&self, m: &Measure<'_>, now: i64) -> Alert {
        let what = match m.rule {
            ERROR_RATE => format!("error rate of `{}` is {:.1}%", m.endpoint, m.value),
            _ => format!("p95 latency of `{}` is {:.0} ms", m.endpoint, m.value),
        };
        let unit = if m.rule == ERROR_RATE { "%" } else { " ms" };
        let name = if m.rule == ERROR_RATE {
            "Error rate"
        } else {
            "p95 latency"
        };
        let title = format!("Resolved: {name} of {}", m.endpoint);
        let url = self.endpoint_url(m.endpoint_id, "");
        let text = format!(
            "Resolved: the {what} over the last {} ({} requests), at or below the {}{unit} \
             threshold for a whole window. {url}",
            minutes(m.window_minutes),
            m.requests,
            number(m.threshold),
        );
        let mut alert = self.measured(m, self.alert(RESOLVED, now, title, text, url));
        alert.rule = Some(m.rule.to_owned());
        alert
    }

    fn measured(&self, m: &Measure<'_>, alert: Alert) -> Alert {
        Alert {
            endpoint: Some(m.endpoint.to_owned()),
            endpoint_id: Some(m.endpoint_id),
            value: Some(round(m.value)),
            threshold: Some(m.threshold),
            window_minutes: Some(m.window_minutes),
            requests: Some(m.requests),
            ..alert
        }
    }

    /// The message of "send a test alert".
    pub(crate) fn test(&self, channel: &str, now: i64) -> Alert {
        let url = format!("{}/alerts", self.base);
        let text = format!(
            "Test alert from fmd on {}: alerts reach this channel ({channel}). {url}",
            self.instance
        );
        self.alert(TEST, now, "Test alert from fmd".into(), text, url)
    }

    /// One message for the alerts a channel held back over its cap.
    pub(crate) fn digest(&self, titles: Vec<String>, cap: usize, period: &str, now: i64) -> Alert {
        let url = format!("{}/alerts", self.base);
        let n = titles.len();
        let list: Vec<String> = titles.iter().take(20).map(|t| format!("• {t}")).collect();
        let more = if n > 20 {
            format!("\n… and {} more.", n - 20)
        } else {
            String::new()
        };
        let text = format!(
            "{n} more alert{} held back: this channel had its {cap} messages in {period}. \
             Every alert is on the dashboard: {url}\n{}{more}",
            if n == 1 { " was" } else { "s were" },
            list.join("\n")
        );
        let mut alert = self.alert(DIGEST, now, format!("{n} more alerts from fmd"), text, url);
        alert.alerts = Some(titles);
        alert
    }
}

/// What a rate or latency rule measured over the window.
#[derive(Debug, Clone)]
pub(crate) struct Measure<'a> {
    pub(crate) rule: &'a str,
    pub(crate) endpoint: &'a str,
    pub(crate) endpoint_id: i64,
    pub(crate) value: f64,
    pub(crate) threshold: f64,
    pub(crate) window_minutes: u32,
    pub(crate) requests: i64,
    pub(crate) errors: i64,
}

fn round(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// `2.5` as "2.5", `10.0` as "10".
fn number(v: f64) -> String {
    format!("{}", round(v))
}

fn minutes(n: u32) -> String {
    if n == 1 {
        "minute".into()
    } else {
        format!("{n} minutes")
    }
}

/// The first line of `s`, at most `max` characters.
fn first_line(s: &str, max: usize) -> String {
    let line = s.lines().next().unwrap_or("");
    match line.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None if line.len() < s.trim_end().len() => format!("{line} …"),
        None => line.to_owned(),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn context() -> Context {
        Context {
            base: "https://shop.example.com/dashboard".into(),
            instance: "web-1".into(),
            tz: chrono_tz::UTC,
        }
    }

    pub(crate) fn group() -> fmd_store::NewGroup {
        fmd_store::NewGroup {
            group_id: 12,
            endpoint_id: 3,
            endpoint: "checkout".into(),
            type_name: "panic".into(),
            message: "index out of bounds: the len is 3 but the index is 7\nmore".into(),
            first_seen: 1_796_000_000_000_000,
        }
    }

    #[test]
    fn a_new_exception_names_endpoint_type_message_and_links_its_group() {
        let alert = context().new_exception(&group(), 1_796_000_001_000_000);
        assert_eq!(alert.kind, "new_exception");
        assert_eq!(
            alert.url,
            "https://shop.example.com/dashboard/endpoint/3/exceptions#group-12"
        );
        assert_eq!(alert.title, "New exception in checkout: panic");
        assert!(alert.text.starts_with(
            "New exception in `checkout`: panic: index out of bounds: the len is 3 but the index is 7 … (first seen 2026-"
        ), "{}", alert.text);
        assert!(alert.text.ends_with(&alert.url));
    }

    #[test]
    fn rules_and_their_end_say_what_was_measured() {
        let m = Measure {
            rule: ERROR_RATE,
            endpoint: "checkout",
            endpoint_id: 3,
            value: 23.456,
            threshold: 10.0,
            window_minutes: 5,
            requests: 200,
            errors: 47,
        };
        let c = context();
        let alert = c.rule_holds(&m, 0);
        assert_eq!(alert.title, "Error rate of checkout is 23.5%");
        assert!(alert
            .text
            .contains("23.5% over the last 5 minutes (47 of 200 requests"));
        assert!(alert.text.contains("above the 10% threshold"));
        assert_eq!(alert.value, Some(23.5));
        let done = c.resolved(
            &Measure {
                value: 1.0,
                ..m.clone()
            },
            0,
        );
        assert_eq!(
            (done.kind.as_str(), done.rule.as_deref()),
            ("resolved", Some("error_rate"))
        );
        assert_eq!(done.title, "Resolved: Error rate of checkout");
        let slow = c.rule_holds(
            &Measure {
                rule: LATENCY,
                value: 812.4,
                threshold: 500.0,
                ..m
            },
            0,
        );
        assert_eq!(slow.title, "p95 latency of checkout is 812 ms");
        assert!(slow.text.contains("above the 500 ms threshold"));
    }

    #[test]
    fn digests_list_what_they_stand_for() {
        let titles: Vec<String> = (0..25).map(|i| format!("alert {i}")).collect();
        let d = context().digest(titles, 20, "10 minutes", 0);
        assert_eq!(d.kind, "digest");
        assert!(d.text.starts_with("25 more alerts were held back"));
        assert!(d.text.contains("• alert 19\n… and 5 more."));
        assert_eq!(d.alerts.as_ref().map(Vec::len), Some(25));
    }
}
