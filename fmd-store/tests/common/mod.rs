#![allow(dead_code, missing_docs)]

use std::net::IpAddr;

use fmd_core::{Endpoint, EndpointMeta, RequestRecord};

pub(crate) static HOME: Endpoint = Endpoint::new(EndpointMeta {
    name: "home",
    module_path: "tests",
    function: "f",
    file: "tests/common.rs",
    line: 1,
    source: "fn home() {}",
    source_sha256: "0000000000000000000000000000000000000000000000000000000000000001",
});

pub(crate) static OTHER: Endpoint = Endpoint::new(EndpointMeta {
    name: "other",
    module_path: "tests",
    function: "f",
    file: "tests/common.rs",
    line: 2,
    source: "fn other() {}",
    source_sha256: "0000000000000000000000000000000000000000000000000000000000000002",
});

pub(crate) fn record(
    endpoint: &'static Endpoint,
    time: i64,
    duration_us: u64,
    status: u16,
) -> RequestRecord {
    RequestRecord {
        endpoint,
        time_requested: time,
        duration_us,
        status_code: status,
        ip: Some("127.0.0.1".parse::<IpAddr>().unwrap()),
        group_by: Some("(User,3)".into()),
    }
}

pub(crate) fn temp_db() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("fmd.db").display());
    (dir, url)
}
