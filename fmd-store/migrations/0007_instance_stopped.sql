-- When an instance shut down cleanly (`Dashboard::shutdown`), microseconds since the epoch;
-- NULL while it runs or after it stopped without saying so. The dashboard then shows it as gone
-- at once instead of a minute after its last heartbeat.
ALTER TABLE {p}instance ADD COLUMN stopped BIGINT NULL;
