-- Per-minute rollups, the same columns as the hourly ones, for the timelines of the last hours:
-- kept for two days only (see fmd-store/src/write/rollup.rs). The migration fills them from the
-- requests of the last two days.
CREATE TABLE {p}request_minute (
    endpoint_id BIGINT NOT NULL,
    minute_start BIGINT NOT NULL,
    instance_id BIGINT NOT NULL,
    version_requested VARCHAR(100) NOT NULL,
    hits BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    sum_us BIGINT NOT NULL,
    histogram {text} NOT NULL,
    codes {text},
    PRIMARY KEY (endpoint_id, minute_start, instance_id, version_requested)
){table_options};
CREATE INDEX {p}request_minute_time ON {p}request_minute (minute_start);
