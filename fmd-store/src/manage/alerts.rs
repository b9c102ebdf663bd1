//! Alerts' state: which exception groups have been announced, each endpoint's rate and latency
//! rules (an administrator's threshold and whether the rule holds), and the history of alerts
//! and their deliveries.
//!
//! Several instances evaluate the same rules against one database; each change of state is a
//! conditional `UPDATE` (`... WHERE alerted IS NULL`, `... WHERE firing = 0`), and the one
//! instance whose statement changed the row sends the alert.

use diesel::sql_types::{BigInt, Double, Integer, Nullable, Text};
use diesel::{QueryableByName, RunQueryDsl};
use serde::Serialize;

use crate::db::{with_conn, AnyConn, Dialect};
use crate::rows::{truncate, Count};
use crate::store::Store;
use crate::write::ensure::last_insert_id;
use crate::StoreError;

/// An exception group stored recently that no instance has announced.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
pub struct NewGroup {
    /// The group (its stack trace snapshot).
    #[diesel(sql_type = BigInt)]
    pub group_id: i64,
    /// The endpoint of its first occurrence.
    #[diesel(sql_type = BigInt)]
    pub endpoint_id: i64,
    /// That endpoint's name.
    #[diesel(sql_type = Text)]
    pub endpoint: String,
    /// The error's type, or `panic`.
    #[diesel(sql_type = Text)]
    pub type_name: String,
    /// The first occurrence's message.
    #[diesel(sql_type = Text)]
    pub message: String,
    /// When it first occurred, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub first_seen: i64,
}

/// One endpoint's rate or latency rule: its threshold and its state.
#[derive(Debug, Clone, PartialEq, Serialize, QueryableByName)]
pub struct AlertRuleRow {
    /// `error_rate` or `latency`.
    #[diesel(sql_type = Text)]
    pub rule: String,
    /// The endpoint.
    #[diesel(sql_type = BigInt)]
    pub endpoint_id: i64,
    /// An administrator's threshold: `None` follows the configuration, 0 turns the rule off.
    #[diesel(sql_type = Nullable<Double>)]
    pub threshold: Option<f64>,
    /// Whether the rule holds (an alert went out, or was due and held back by the cooldown).
    #[diesel(sql_type = Integer)]
    pub firing: i32,
    /// When it last started or stopped holding, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub since: i64,
    /// When an evaluation last found it holding.
    #[diesel(sql_type = BigInt)]
    pub last_held: i64,
    /// When its last alert was sent.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub last_sent: Option<i64>,
    /// Whether this firing was announced (so its end is announced too).
    #[diesel(sql_type = Integer)]
    pub notified: i32,
}

/// An alert as stored.
#[derive(Debug, Clone, PartialEq, Serialize, QueryableByName)]
pub struct AlertRow {
    /// Its id.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// `new_exception`, `error_rate`, `latency`, `resolved`, `test` or `digest`.
    #[diesel(sql_type = Text)]
    pub kind: String,
    /// The endpoint it is about, if any.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub endpoint_id: Option<i64>,
    /// When it was raised, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub created: i64,
    /// The instance that raised it.
    #[diesel(sql_type = Text)]
    pub instance: String,
    /// One line: an email's subject.
    #[diesel(sql_type = Text)]
    pub title: String,
    /// The alert itself as JSON (the webhook body's fields).
    #[diesel(sql_type = Text)]
    pub body: String,
}

/// One attempt to deliver an alert to a channel.
#[derive(Debug, Clone, PartialEq, Serialize, QueryableByName)]
pub struct DeliveryRow {
    /// The alert.
    #[diesel(sql_type = BigInt)]
    pub alert_id: i64,
    /// The channel, as shown (no secrets).
    #[diesel(sql_type = Text)]
    pub channel: String,
    /// 1 for the first attempt.
    #[diesel(sql_type = Integer)]
    pub attempt: i32,
    /// When, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub time: i64,
    /// `sent`, `failed` (retried later), `gave_up`, `held` (over the channel's cap, in the
    /// next digest) or `skipped`.
    #[diesel(sql_type = Text)]
    pub outcome: String,
    /// The channel's answer or error.
    #[diesel(sql_type = Nullable<Text>)]
    pub detail: Option<String>,
}

const RULE_COLUMNS: &str =
    "rule, endpoint_id, threshold, firing, since, last_held, last_sent, notified";

/// Makes sure the rule's row exists, so that the conditional updates below find it.
fn ensure_rule(
    conn: &mut AnyConn,
    d: &Dialect,
    rule: &str,
    endpoint_id: i64,
) -> Result<(), diesel::result::Error> {
    let insert = diesel::sql_query(d.sql(
        "{insert_ignore} INTO {p}alert_rule (rule, endpoint_id) VALUES (?, ?){on_conflict_ignore}",
    ))
    .bind::<Text, _>(rule)
    .bind::<BigInt, _>(endpoint_id);
    with_conn!(conn, c => insert.execute(c))?;
    Ok(())
}

impl Store {
    /// Exception groups stored at or after `since` (microseconds) that no instance has claimed
    /// with [`Store::claim_group`], oldest first, at most `limit`.
    pub fn unannounced_groups(&self, since: i64, limit: i64) -> Result<Vec<NewGroup>, StoreError> {
        let query = diesel::sql_query(self.sql(
            "SELECT s.id AS group_id, o.endpoint_id, e.name AS endpoint, t.name AS type_name, \
               m.message, o.time_occurred AS first_seen \
             FROM {p}stack_trace_snapshot s \
             JOIN {p}exception_occurrence o ON o.id = \
               (SELECT MIN(f.id) FROM {p}exception_occurrence f WHERE f.stack_trace_snapshot_id = s.id) \
             JOIN {p}endpoint e ON e.id = o.endpoint_id \
             JOIN {p}exception_type t ON t.id = o.exception_type_id \
             JOIN {p}exception_message m ON m.id = o.exception_message_id \
             WHERE s.alerted IS NULL AND s.created >= ? ORDER BY s.id LIMIT ?",
        ))
        .bind::<BigInt, _>(since)
        .bind::<BigInt, _>(limit);
        Ok(with_conn!(&mut self.conn()?, c => query.load(c))?)
    }

    /// Claims the new-exception alert of `group_id` at `now`: true for exactly one caller, of
    /// every instance, while the group exists (a deleted group that comes back is a new one).
    pub fn claim_group(&self, group_id: i64, now: i64) -> Result<bool, StoreError> {
        let update = diesel::sql_query(self.sql(
            "UPDATE {p}stack_trace_snapshot SET alerted = ? WHERE id = ? AND alerted IS NULL",
        ))
        .bind::<BigInt, _>(now)
        .bind::<BigInt, _>(group_id);
        Ok(with_conn!(&mut self.conn()?, c => update.execute(c))? == 1)
    }

    /// Every endpoint rule with a threshold set or a state recorded.
    pub fn alert_rules(&self) -> Result<Vec<AlertRuleRow>, StoreError> {
        let query = diesel::sql_query(self.sql(&format!(
            "SELECT {RULE_COLUMNS} FROM {{p}}alert_rule ORDER BY endpoint_id, rule"
        )));
        Ok(with_conn!(&mut self.conn()?, c => query.load(c))?)
    }

    /// Sets an endpoint's threshold of `rule`: `None` follows the configuration, 0 turns the
    /// rule off for it.
    pub fn set_alert_threshold(
        &self,
        rule: &str,
        endpoint_id: i64,
        threshold: Option<f64>,
    ) -> Result<(), StoreError> {
        let d = &self.dialect;
        self.conn()?.transaction(false, |conn| {
            ensure_rule(conn, d, rule, endpoint_id)?;
            let update = diesel::sql_query(
                d.sql("UPDATE {p}alert_rule SET threshold = ? WHERE rule = ? AND endpoint_id = ?"),
            )
            .bind::<Nullable<Double>, _>(threshold)
            .bind::<Text, _>(rule)
            .bind::<BigInt, _>(endpoint_id);
            with_conn!(conn, c => update.execute(c))?;
            Ok(())
        })
    }

    /// Records that `rule` held for the endpoint at `now`, and claims its start if it was not
    /// firing: `Some(notify)` for the one caller that started it, where `notify` is false when
    /// an alert of the rule went out less than a cooldown ago (at or after `quiet_since`).
    /// `None` when it was firing already.
    pub fn rule_holds(
        &self,
        rule: &str,
        endpoint_id: i64,
        now: i64,
        quiet_since: i64,
    ) -> Result<Option<bool>, StoreError> {
        let d = &self.dialect;
        self.conn()?.transaction(false, |conn| {
            ensure_rule(conn, d, rule, endpoint_id)?;
            let held = diesel::sql_query(d.sql(
                "UPDATE {p}alert_rule SET last_held = ? WHERE rule = ? AND endpoint_id = ?",
            ))
            .bind::<BigInt, _>(now)
            .bind::<Text, _>(rule)
            .bind::<BigInt, _>(endpoint_id);
            with_conn!(conn, c => held.execute(c))?;
            let start = diesel::sql_query(d.sql(
                "UPDATE {p}alert_rule SET firing = 1, since = ?, \
                   notified = CASE WHEN last_sent IS NULL OR last_sent < ? THEN 1 ELSE 0 END, \
                   last_sent = CASE WHEN last_sent IS NULL OR last_sent < ? THEN ? ELSE last_sent END \
                 WHERE rule = ? AND endpoint_id = ? AND firing = 0",
            ))
            .bind::<BigInt, _>(now)
            .bind::<BigInt, _>(quiet_since)
            .bind::<BigInt, _>(quiet_since)
            .bind::<BigInt, _>(now)
            .bind::<Text, _>(rule)
            .bind::<BigInt, _>(endpoint_id);
            if with_conn!(conn, c => start.execute(c))? != 1 {
                return Ok(None);
            }
            let notified = diesel::sql_query(d.sql(
                "SELECT notified AS n FROM {p}alert_rule WHERE rule = ? AND endpoint_id = ?",
            ))
            .bind::<Text, _>(rule)
            .bind::<BigInt, _>(endpoint_id);
            let n = with_conn!(conn, c => notified.get_result::<Count32>(c))?.n;
            Ok(Some(n == 1))
        })
    }

    /// Claims the end of a firing rule whose last hold was before `held_before`: `Some(notify)`
    /// for the one caller that ended it, `notify` true when its start was announced. `None`
    /// when it was not firing or held since.
    pub fn rule_resolves(
        &self,
        rule: &str,
        endpoint_id: i64,
        now: i64,
        held_before: i64,
    ) -> Result<Option<bool>, StoreError> {
        let d = &self.dialect;
        self.conn()?.transaction(false, |conn| {
            let notified = diesel::sql_query(d.sql(
                "SELECT notified AS n FROM {p}alert_rule \
                 WHERE rule = ? AND endpoint_id = ? AND firing = 1 AND last_held < ?",
            ))
            .bind::<Text, _>(rule)
            .bind::<BigInt, _>(endpoint_id)
            .bind::<BigInt, _>(held_before);
            let Some(n) = with_conn!(conn, c => notified.load::<Count32>(c))?
                .first()
                .map(|r| r.n)
            else {
                return Ok(None);
            };
            let end = diesel::sql_query(d.sql(
                "UPDATE {p}alert_rule SET firing = 0, notified = 0, since = ? \
                 WHERE rule = ? AND endpoint_id = ? AND firing = 1 AND last_held < ?",
            ))
            .bind::<BigInt, _>(now)
            .bind::<Text, _>(rule)
            .bind::<BigInt, _>(endpoint_id)
            .bind::<BigInt, _>(held_before);
            Ok((with_conn!(conn, c => end.execute(c))? == 1).then_some(n == 1))
        })
    }

    /// Stores an alert; returns its id.
    pub fn add_alert(
        &self,
        kind: &str,
        endpoint_id: Option<i64>,
        created: i64,
        instance: &str,
        title: &str,
        body: &str,
    ) -> Result<i64, StoreError> {
        let d = &self.dialect;
        self.conn()?.transaction(false, |conn| {
            let insert = diesel::sql_query(d.sql(
                "INSERT INTO {p}alert (kind, endpoint_id, created, instance, title, body) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            ))
            .bind::<Text, _>(kind)
            .bind::<Nullable<BigInt>, _>(endpoint_id)
            .bind::<BigInt, _>(created)
            .bind::<Text, _>(truncate(instance, 255))
            .bind::<Text, _>(truncate(title, 500))
            .bind::<Text, _>(body);
            with_conn!(conn, c => insert.execute(c))?;
            Ok(last_insert_id(conn, d)?)
        })
    }

    /// Records one delivery attempt.
    pub fn add_delivery(&self, row: &DeliveryRow) -> Result<(), StoreError> {
        let insert = diesel::sql_query(self.sql(
            "INSERT INTO {p}alert_delivery (alert_id, channel, attempt, time, outcome, detail) \
             VALUES (?, ?, ?, ?, ?, ?)",
        ))
        .bind::<BigInt, _>(row.alert_id)
        .bind::<Text, _>(truncate(&row.channel, 255))
        .bind::<Integer, _>(row.attempt)
        .bind::<BigInt, _>(row.time)
        .bind::<Text, _>(truncate(&row.outcome, 16))
        .bind::<Nullable<Text>, _>(row.detail.as_deref().map(|d| truncate(d, 2000)));
        with_conn!(&mut self.conn()?, c => insert.execute(c))?;
        Ok(())
    }

    /// Alerts, newest first, with every delivery attempt of each (oldest first).
    pub fn alerts(
        &self,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<(AlertRow, Vec<DeliveryRow>)>, StoreError> {
        let mut conn = self.conn()?;
        let query = diesel::sql_query(self.sql(
            "SELECT id, kind, endpoint_id, created, instance, title, body FROM {p}alert \
             ORDER BY created DESC, id DESC LIMIT ? OFFSET ?",
        ))
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(offset);
        let alerts: Vec<AlertRow> = with_conn!(&mut conn, c => query.load(c))?;
        if alerts.is_empty() {
            return Ok(Vec::new());
        }
        // Ids read from the database as integers: safe to write into the statement.
        let ids: Vec<String> = alerts.iter().map(|a| a.id.to_string()).collect();
        let query = diesel::sql_query(self.sql(&format!(
            "SELECT alert_id, channel, attempt, time, outcome, detail FROM {{p}}alert_delivery \
             WHERE alert_id IN ({}) ORDER BY id",
            ids.join(", ")
        )));
        let mut deliveries: Vec<DeliveryRow> = with_conn!(&mut conn, c => query.load(c))?;
        Ok(alerts
            .into_iter()
            .map(|a| {
                let (mine, rest) = deliveries.drain(..).partition(|d| d.alert_id == a.id);
                deliveries = rest;
                (a, mine)
            })
            .collect())
    }

    /// How many alerts are stored.
    pub fn alert_count(&self) -> Result<i64, StoreError> {
        let query = diesel::sql_query(self.sql("SELECT COUNT(*) AS n FROM {p}alert"));
        Ok(with_conn!(&mut self.conn()?, c => query.get_result::<Count>(c))?.n)
    }
}

#[derive(QueryableByName)]
struct Count32 {
    #[diesel(sql_type = Integer)]
    n: i32,
}
