-- Status-code counts per rollup row (`code:count,...`), for the status chart and reports. The
-- rollups are made again from the stored requests, with the new column filled.
ALTER TABLE {p}request_hour ADD COLUMN codes {text};
DELETE FROM {p}request_hour;
