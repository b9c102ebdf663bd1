-- Log events (`tracing`'s warnings and errors) kept with a request that was an outlier or raised
-- an exception: the last 20 it logged, oldest first (fmd-store/src/write/profiles.rs).
CREATE TABLE {p}request_event (
    request_id BIGINT NOT NULL,
    position INTEGER NOT NULL,
    time_logged BIGINT NOT NULL,
    level VARCHAR(8) NOT NULL,
    target VARCHAR(255) NOT NULL,
    message {text} NOT NULL,
    fields {text} NOT NULL,
    PRIMARY KEY (request_id, position)
){table_options}
