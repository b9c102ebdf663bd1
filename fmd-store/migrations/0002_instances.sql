-- Service instances writing to this database: one row per instance_name, its last heartbeat,
-- and which instance recorded each request.
CREATE TABLE {p}instance (
    id {id},
    name VARCHAR(255) NOT NULL,
    version VARCHAR(100) NOT NULL DEFAULT '',
    started BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    CONSTRAINT {p}instance_name_unique UNIQUE (name)
){table_options};
ALTER TABLE {p}request ADD COLUMN instance_id BIGINT NULL;
