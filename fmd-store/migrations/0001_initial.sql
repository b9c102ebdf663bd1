-- The whole data model of fmd. Placeholders: {p} is the table prefix; {id} an auto-increment
-- primary key, {bool} a 0/1 integer, {text} unbounded text, {table_options} a table's storage options, for the backend in use. Times are
-- BIGINT microseconds since the Unix epoch, UTC; durations BIGINT microseconds.

-- Endpoints registered by #[monitored]; function_id points at the current source.
CREATE TABLE {p}endpoint (
    id {id},
    name VARCHAR(255) NOT NULL,
    module_path VARCHAR(255) NOT NULL DEFAULT '',
    file VARCHAR(1024) NOT NULL DEFAULT '',
    line INTEGER NOT NULL DEFAULT 0,
    function_id BIGINT NULL,
    monitor_level INTEGER NOT NULL,
    time_added BIGINT NOT NULL,
    version_added VARCHAR(100) NOT NULL DEFAULT '',
    last_requested BIGINT NULL,
    CONSTRAINT {p}endpoint_name_unique UNIQUE (name)
){table_options};

-- One row per monitored request at level 1 and above.
CREATE TABLE {p}request (
    id {id},
    endpoint_id BIGINT NOT NULL,
    duration_us BIGINT NOT NULL,
    time_requested BIGINT NOT NULL,
    version_requested VARCHAR(100) NOT NULL DEFAULT '',
    group_by VARCHAR(255) NULL,
    ip VARCHAR(45) NULL,
    status_code INTEGER NOT NULL
){table_options};
CREATE INDEX {p}request_endpoint_time ON {p}request (endpoint_id, time_requested);


-- Function definitions (thesis: FunctionDefinition): source text deduplicated by its sha256.
CREATE TABLE {p}function_definition (
    id {id},
    name VARCHAR(255) NOT NULL,
    code {text} NOT NULL,
    code_hash VARCHAR(64) NOT NULL,
    CONSTRAINT {p}function_definition_hash_unique UNIQUE (code_hash)
){table_options};

-- Where a function definition lives (thesis: FunctionLocation); location_hash makes the
-- (definition, file, line) triple unique without an index over long paths.
CREATE TABLE {p}function_location (
    id {id},
    function_definition_id BIGINT NOT NULL,
    file_path VARCHAR(1024) NOT NULL,
    relative_path VARCHAR(1024) NOT NULL DEFAULT '',
    function_start_line INTEGER NOT NULL,
    location_hash VARCHAR(64) NOT NULL,
    CONSTRAINT {p}function_location_hash_unique UNIQUE (location_hash)
){table_options};

-- Level 2: extra information about outlier requests.
CREATE TABLE {p}outlier (
    id {id},
    request_id BIGINT NOT NULL,
    request_url {text} NOT NULL,
    request_method VARCHAR(16) NOT NULL DEFAULT '',
    request_headers {text} NOT NULL,
    cpu_percent {text} NOT NULL,
    memory_bytes BIGINT NOT NULL DEFAULT 0,
    system_memory_bytes BIGINT NOT NULL DEFAULT 0,
    stuck_stack {text} NOT NULL,
    CONSTRAINT {p}outlier_request_unique UNIQUE (request_id)
){table_options};

-- Level 3: one row per profiled span; the tree is rebuilt from parent positions.
CREATE TABLE {p}profile_span (
    id {id},
    request_id BIGINT NOT NULL,
    position INTEGER NOT NULL,
    parent_position INTEGER NULL,
    depth INTEGER NOT NULL,
    function_location_id BIGINT NOT NULL,
    start_us BIGINT NOT NULL,
    duration_us BIGINT NOT NULL,
    cancelled {bool} NOT NULL DEFAULT 0
){table_options};
CREATE INDEX {p}profile_span_request ON {p}profile_span (request_id, position);

-- Exceptions, normalised as in the thesis: each table deduplicated, so a repeated error costs
-- one occurrence row.
CREATE TABLE {p}exception_type (
    id {id},
    name VARCHAR(255) NOT NULL,
    CONSTRAINT {p}exception_type_name_unique UNIQUE (name)
){table_options};
CREATE TABLE {p}exception_message (
    id {id},
    message {text} NOT NULL,
    message_hash VARCHAR(64) NOT NULL,
    CONSTRAINT {p}exception_message_hash_unique UNIQUE (message_hash)
){table_options};
CREATE TABLE {p}stack_trace_snapshot (
    id {id},
    chained_hash VARCHAR(64) NOT NULL,
    CONSTRAINT {p}stack_trace_snapshot_hash_unique UNIQUE (chained_hash)
){table_options};
CREATE TABLE {p}exception_frame (
    id {id},
    function_location_id BIGINT NOT NULL,
    line_number INTEGER NOT NULL,
    frame_hash VARCHAR(64) NOT NULL,
    CONSTRAINT {p}exception_frame_hash_unique UNIQUE (frame_hash)
){table_options};
CREATE TABLE {p}exception_stack_line (
    stack_trace_snapshot_id BIGINT NOT NULL,
    exception_frame_id BIGINT NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (stack_trace_snapshot_id, position)
){table_options};
CREATE TABLE {p}exception_occurrence (
    id {id},
    request_id BIGINT NULL,
    endpoint_id BIGINT NOT NULL,
    exception_type_id BIGINT NOT NULL,
    exception_message_id BIGINT NOT NULL,
    stack_trace_snapshot_id BIGINT NOT NULL,
    is_user_captured {bool} NOT NULL DEFAULT 0,
    time_occurred BIGINT NOT NULL
){table_options};
CREATE INDEX {p}exception_occurrence_endpoint ON {p}exception_occurrence (endpoint_id, time_occurred);

-- Custom graphs and their values over time.
CREATE TABLE {p}custom_graph (
    id {id},
    title VARCHAR(255) NOT NULL,
    time_added BIGINT NOT NULL,
    CONSTRAINT {p}custom_graph_title_unique UNIQUE (title)
){table_options};
CREATE TABLE {p}custom_graph_data (
    id {id},
    graph_id BIGINT NOT NULL,
    time_recorded BIGINT NOT NULL,
    value DOUBLE PRECISION NOT NULL
){table_options};
CREATE INDEX {p}custom_graph_data_graph_time ON {p}custom_graph_data (graph_id, time_recorded);

-- Dashboard users; passwords as argon2 PHC strings.
CREATE TABLE {p}dashboard_user (
    id {id},
    username VARCHAR(255) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    is_admin {bool} NOT NULL,
    CONSTRAINT {p}dashboard_user_name_unique UNIQUE (username)
){table_options};

-- Small named values: the session signing key.
CREATE TABLE {p}setting (
    name VARCHAR(64) NOT NULL PRIMARY KEY,
    value {text} NOT NULL
){table_options}
