-- Dashboard sessions, kept server-side so that logging out, deleting a user or changing a
-- password ends them on every instance. `id` is the SHA-256 (base64url) of the cookie's random
-- token: the table alone does not give anyone a working cookie. Times in microseconds.
CREATE TABLE {p}dashboard_session (
    id VARCHAR(64) NOT NULL PRIMARY KEY,
    username VARCHAR(255) NOT NULL,
    is_admin {bool} NOT NULL,
    csrf VARCHAR(64) NOT NULL,
    created BIGINT NOT NULL,
    expires BIGINT NOT NULL
){table_options};
CREATE INDEX {p}dashboard_session_user ON {p}dashboard_session (username);
CREATE INDEX {p}dashboard_session_expires ON {p}dashboard_session (expires);
