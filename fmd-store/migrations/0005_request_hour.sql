-- Per-hour rollups of the requests (see fmd-store/src/rollup.rs): one row per endpoint, UTC
-- hour, instance (0: none) and version. Migration 6 fills it from the stored requests.
CREATE TABLE {p}request_hour (
    endpoint_id BIGINT NOT NULL,
    hour_start BIGINT NOT NULL,
    instance_id BIGINT NOT NULL,
    version_requested VARCHAR(100) NOT NULL,
    hits BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    sum_us BIGINT NOT NULL,
    histogram {text} NOT NULL,
    PRIMARY KEY (endpoint_id, hour_start, instance_id, version_requested)
){table_options};
