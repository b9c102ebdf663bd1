-- Alerts (fmd-store/src/manage/alerts.rs). A new exception group is a new stack trace
-- snapshot: `created` is when it was stored, `alerted` when an instance claimed its alert (the
-- UPDATE that sets it decides who sends, so several instances send one). Groups stored before
-- this migration keep `created` 0 and are never announced.
ALTER TABLE {p}stack_trace_snapshot ADD COLUMN created BIGINT NOT NULL DEFAULT 0;
ALTER TABLE {p}stack_trace_snapshot ADD COLUMN alerted BIGINT NULL;
CREATE INDEX {p}stack_trace_snapshot_created ON {p}stack_trace_snapshot (created);
-- A new group's first occurrence, for its alert (and a group's occurrences, for its page).
CREATE INDEX {p}exception_occurrence_group ON {p}exception_occurrence (stack_trace_snapshot_id, id);

-- The rate and latency rules per endpoint: an administrator's threshold (NULL: the
-- configuration's, 0: off) and whether the rule holds, claimed by conditional UPDATEs as above.
CREATE TABLE {p}alert_rule (
    rule VARCHAR(32) NOT NULL,
    endpoint_id BIGINT NOT NULL,
    threshold DOUBLE PRECISION NULL,
    firing {bool} NOT NULL DEFAULT 0,
    since BIGINT NOT NULL DEFAULT 0,
    last_held BIGINT NOT NULL DEFAULT 0,
    last_sent BIGINT NULL,
    notified {bool} NOT NULL DEFAULT 0,
    PRIMARY KEY (rule, endpoint_id)
){table_options};

-- Every alert sent, and every attempt to deliver it to each channel.
CREATE TABLE {p}alert (
    id {id},
    kind VARCHAR(32) NOT NULL,
    endpoint_id BIGINT NULL,
    created BIGINT NOT NULL,
    instance VARCHAR(255) NOT NULL,
    title VARCHAR(500) NOT NULL,
    body {text} NOT NULL
){table_options};
CREATE INDEX {p}alert_created ON {p}alert (created);
CREATE TABLE {p}alert_delivery (
    id {id},
    alert_id BIGINT NOT NULL,
    channel VARCHAR(255) NOT NULL,
    attempt INTEGER NOT NULL,
    time BIGINT NOT NULL,
    outcome VARCHAR(16) NOT NULL,
    detail {text} NULL
){table_options};
CREATE INDEX {p}alert_delivery_alert ON {p}alert_delivery (alert_id);
