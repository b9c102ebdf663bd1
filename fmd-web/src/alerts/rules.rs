//! The rules, evaluated by every instance against the shared database: new exception groups
//! every few seconds, error rate and latency per endpoint over the sliding window from the
//! minute rollups. Whichever instance's claim changes the state raises the alert (see
//! `fmd_store`'s alert module), so several instances alert once.

use std::collections::HashMap;

use fmd_store::{AlertRuleRow, Store, StoreError, WindowStats, MINUTE};

use super::message::{Alert, Context, Measure, ERROR_RATE, LATENCY};

/// New groups stored longer ago than this are not announced: after alerting is switched on,
/// or an outage of every instance, old groups do not flood the channels.
pub(crate) const NEW_GROUP_HORIZON: i64 = 3_600_000_000;

/// Groups announced per evaluation at most; more wait for the next.
const GROUPS_PER_ROUND: i64 = 100;

/// The configured rules.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Rules {
    pub(crate) new_exception: bool,
    pub(crate) error_rate_percent: f64,
    pub(crate) latency_p95_ms: f64,
    pub(crate) window_minutes: u32,
    pub(crate) min_requests: u32,
    pub(crate) cooldown_minutes: u32,
}

impl Rules {
    pub(crate) fn from_config(c: &fmd_core::Config) -> Rules {
        Rules {
            new_exception: c.new_exception,
            error_rate_percent: c.error_rate_percent,
            latency_p95_ms: c.latency_p95_ms,
            window_minutes: c.window_minutes,
            min_requests: c.min_requests,
            cooldown_minutes: c.cooldown_minutes,
        }
    }

    /// The configured threshold of `rule`.
    pub(crate) fn default_threshold(&self, rule: &str) -> f64 {
        match rule {
            ERROR_RATE => self.error_rate_percent,
            _ => self.latency_p95_ms,
        }
    }

    fn window(&self) -> i64 {
        i64::from(self.window_minutes) * MINUTE
    }

    /// The new exception groups this instance claimed at `now`, as alerts.
    pub(crate) fn new_groups(
        &self,
        store: &Store,
        context: &Context,
        now: i64,
    ) -> Result<Vec<Alert>, StoreError> {
        let mut alerts = Vec::new();
        if !self.new_exception {
            return Ok(alerts);
        }
        for group in store.unannounced_groups(now - NEW_GROUP_HORIZON, GROUPS_PER_ROUND)? {
            if store.claim_group(group.group_id, now)? {
                alerts.push(context.new_exception(&group, now));
            }
        }
        Ok(alerts)
    }

    /// The rate and latency rules this instance saw start or end at `now`, as alerts.
    pub(crate) fn measured(
        &self,
        store: &Store,
        context: &Context,
        now: i64,
    ) -> Result<Vec<Alert>, StoreError> {
        let rows = store.alert_rules()?;
        let overridden = rows.iter().any(|r| r.threshold.is_some_and(|t| t > 0.0));
        let configured = self.error_rate_percent > 0.0 || self.latency_p95_ms > 0.0;
        if !configured && !overridden && !rows.iter().any(|r| r.firing == 1) {
            return Ok(Vec::new());
        }
        // The window ends with the current minute, so it holds `window_minutes` minutes.
        let stats: HashMap<i64, WindowStats> = store
            .window_stats(now - self.window() + MINUTE)?
            .into_iter()
            .map(|s| (s.endpoint_id, s))
            .collect();
        let state: HashMap<(&str, i64), &AlertRuleRow> = rows
            .iter()
            .map(|r| ((r.rule.as_str(), r.endpoint_id), r))
            .collect();
        let cooldown = i64::from(self.cooldown_minutes) * MINUTE;
        let mut alerts = Vec::new();
        for endpoint in store.endpoints()? {
            for rule in [ERROR_RATE, LATENCY] {
                let row = state.get(&(rule, endpoint.id));
                let threshold = row
                    .and_then(|r| r.threshold)
                    .unwrap_or_else(|| self.default_threshold(rule));
                let seen = stats.get(&endpoint.id);
                let (hits, errors) = seen.map_or((0, 0), |s| (s.hits, s.errors));
                let value = match rule {
                    ERROR_RATE if hits > 0 => errors as f64 * 100.0 / hits as f64,
                    ERROR_RATE => 0.0,
                    _ => seen.and_then(|s| s.p95_ms).unwrap_or(0.0),
                };
                let measure = Measure {
                    rule,
                    endpoint: &endpoint.name,
                    endpoint_id: endpoint.id,
                    value,
                    threshold,
                    window_minutes: self.window_minutes,
                    requests: hits,
                    errors,
                };
                let holds =
                    threshold > 0.0 && hits >= i64::from(self.min_requests) && value > threshold;
                if holds {
                    if store.rule_holds(rule, endpoint.id, now, now - cooldown)? == Some(true) {
                        alerts.push(context.rule_holds(&measure, now));
                    }
                } else if row.is_some_and(|r| r.firing == 1)
                    && store.rule_resolves(rule, endpoint.id, now, now - self.window())?
                        == Some(true)
                {
                    alerts.push(context.resolved(&measure, now));
                }
            }
        }
        Ok(alerts)
    }
}
