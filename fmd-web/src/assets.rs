//! The dashboard's static files, embedded in the binary.

use http::{header, Response, StatusCode};

use crate::web::{json_error, Reply};

pub(crate) fn static_asset(file: &str) -> Reply {
    let (body, content_type): (&'static [u8], &str) = match file {
        "fmd.css" => (
            include_bytes!("../assets/static/fmd.css"),
            "text/css; charset=utf-8",
        ),
        "fmd.js" => (
            include_bytes!("../assets/static/fmd.js"),
            "text/javascript; charset=utf-8",
        ),
        "favicon.svg" => (
            include_bytes!("../assets/static/favicon.svg"),
            "image/svg+xml",
        ),
        // Vendored from the npm registry (scripts/vendor-echarts.sh); Apache-2.0, its license
        // next to it in assets/vendor/echarts.
        "echarts.min.js" => (
            include_bytes!("../assets/vendor/echarts/echarts.min.js"),
            "text/javascript; charset=utf-8",
        ),
        _ => return json_error(StatusCode::NOT_FOUND, "no such asset"),
    };
    Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "public, max-age=3600")
        .body(body.into())
        .unwrap_or_default()
}
