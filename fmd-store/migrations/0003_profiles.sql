-- Levels 2 and 3: one row per request whose span tree is stored (its spans are in
-- {p}profile_span), so an endpoint's latest profiles are found through an index; outliers
-- gain their endpoint and time for the same reason.
CREATE TABLE {p}profile (
    request_id BIGINT NOT NULL PRIMARY KEY,
    endpoint_id BIGINT NOT NULL,
    time_requested BIGINT NOT NULL,
    duration_us BIGINT NOT NULL,
    span_count INTEGER NOT NULL,
    dropped_spans INTEGER NOT NULL DEFAULT 0
){table_options};
CREATE INDEX {p}profile_endpoint_time ON {p}profile (endpoint_id, time_requested);
ALTER TABLE {p}outlier ADD COLUMN endpoint_id BIGINT NOT NULL DEFAULT 0;
ALTER TABLE {p}outlier ADD COLUMN time_requested BIGINT NOT NULL DEFAULT 0;
CREATE INDEX {p}outlier_endpoint_time ON {p}outlier (endpoint_id, time_requested)
