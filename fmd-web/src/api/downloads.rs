//! Downloads: an endpoint's requests, outliers and exception groups over whole days, as CSV or
//! JSON. The rows are read a page at a time on a blocking thread and streamed as they are
//! written, so a million rows never sit in memory; a database error half-way closes the
//! connection before the body's end, so the client sees the file is incomplete.

use http::{header, Response, StatusCode};
use serde::Serialize;

use fmd_store::{Filter, Store, StoreError};

use super::exceptions::{group_item, GroupItem};
use super::profiles::{outlier_item, OutlierItem};
use super::{chart_range, endpoint, instance_filter, parse_id, ApiError};
use crate::body::{ChunkSender, DashboardBody};
use crate::views::{request_item, RequestItem};
use crate::web::{Reply, Req};

/// What an endpoint's downloads hold.
pub(crate) const DOWNLOADS: &str = "requests, outliers, exceptions";

/// Rows read from the database at a time.
const PAGE: i64 = 2_000;

/// Bytes gathered before they are sent as one chunk.
const CHUNK: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Format {
    Csv,
    Json,
}

/// A row of a download: its JSON form is its `Serialize`; its CSV form, these cells under
/// [`Row::HEADER`].
trait Row: Serialize {
    const HEADER: &'static [&'static str];
    fn cells(&self) -> Vec<String>;
}

impl Row for RequestItem {
    const HEADER: &'static [&'static str] = &[
        "id",
        "time_requested",
        "duration_ms",
        "status_code",
        "version",
        "group_by",
        "ip",
        "instance",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.time_requested.clone(),
            self.duration_ms.to_string(),
            self.status_code.to_string(),
            self.version.clone(),
            self.group_by.clone(),
            self.ip.clone(),
            self.instance.clone(),
        ]
    }
}

impl Row for OutlierItem {
    const HEADER: &'static [&'static str] = &[
        "request",
        "time_requested",
        "duration_ms",
        "status_code",
        "method",
        "url",
        "cpu_percent",
        "memory_bytes",
        "system_memory_bytes",
        "stuck_after_ms",
        "stuck_in",
    ];
    fn cells(&self) -> Vec<String> {
        let cpu: Vec<String> = self.cpu_percent.iter().map(|c| format!("{c:.1}")).collect();
        let stack: Vec<&str> = self.stack.iter().map(|f| f.function.as_str()).collect();
        vec![
            self.request.to_string(),
            self.time_requested.clone(),
            self.duration_ms.to_string(),
            self.status_code.to_string(),
            self.method.clone(),
            self.url.clone(),
            cpu.join(" "),
            self.memory_bytes.to_string(),
            self.system_memory_bytes.to_string(),
            self.stuck_after_ms
                .map(|ms| ms.to_string())
                .unwrap_or_default(),
            stack.join(" < "),
        ]
    }
}

impl Row for GroupItem {
    const HEADER: &'static [&'static str] = &[
        "group_id",
        "type",
        "message",
        "first_seen",
        "last_seen",
        "count",
        "user_captured",
    ];
    fn cells(&self) -> Vec<String> {
        vec![
            self.group_id.to_string(),
            self.type_name.clone(),
            self.message.clone(),
            self.first_seen.clone(),
            self.last_seen.clone(),
            self.count.to_string(),
            self.user_captured.to_string(),
        ]
    }
}

/// One CSV cell: quoted when it holds a comma, quote or line break, and with a `'` before a
/// leading `=`, `+`, `-`, `@` or tab, which spreadsheets would run as a formula: recorded
/// values (group_by, URLs, messages) come from clients.
fn csv_cell(value: &str) -> String {
    let guarded = match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') if value.parse::<f64>().is_err() => {
            format!("'{value}")
        }
        _ => value.to_owned(),
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

/// Writes rows in one format and sends them in chunks of about [`CHUNK`] bytes.
struct Writer<'a> {
    format: Format,
    tx: &'a ChunkSender,
    buf: Vec<u8>,
    rows: usize,
}

impl<'a> Writer<'a> {
    fn start<R: Row>(format: Format, tx: &'a ChunkSender) -> Self {
        let mut buf = Vec::with_capacity(CHUNK + 4096);
        match format {
            Format::Csv => {
                buf.extend_from_slice(R::HEADER.join(",").as_bytes());
                buf.extend_from_slice(b"\r\n");
            }
            Format::Json => buf.push(b'['),
        }
        Writer {
            format,
            tx,
            buf,
            rows: 0,
        }
    }

    /// Adds a row; false once the client has gone.
    fn row<R: Row>(&mut self, row: &R) -> bool {
        match self.format {
            Format::Csv => {
                let cells: Vec<String> = row.cells().iter().map(|c| csv_cell(c)).collect();
                self.buf.extend_from_slice(cells.join(",").as_bytes());
                self.buf.extend_from_slice(b"\r\n");
            }
            Format::Json => {
                if self.rows > 0 {
                    self.buf.push(b',');
                }
                self.buf.push(b'\n');
                // Serializing these plain structs cannot fail.
                let _ = serde_json::to_writer(&mut self.buf, row);
            }
        }
        self.rows += 1;
        self.buf.len() < CHUNK || self.flush()
    }

    fn flush(&mut self) -> bool {
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK + 4096));
        self.tx.blocking_send(Ok(chunk.into())).is_ok()
    }

    fn finish(mut self) {
        if self.format == Format::Json {
            self.buf.extend_from_slice(b"\n]\n");
        }
        self.flush();
    }
}

/// Reads every page of rows after the last one and writes them; stops early when the client
/// has gone.
fn write_pages<T, R: Row>(
    format: Format,
    tx: &ChunkSender,
    mut page: impl FnMut(Option<&T>) -> Result<Vec<T>, StoreError>,
    item: impl Fn(T) -> R,
) -> Result<(), StoreError> {
    let mut out = Writer::start::<R>(format, tx);
    let mut rows = page(None)?;
    while !rows.is_empty() {
        let next = page(rows.last())?;
        for r in rows {
            if !out.row(&item(r)) {
                return Ok(());
            }
        }
        rows = next;
    }
    out.finish();
    Ok(())
}

/// Writes the download; runs on a blocking thread.
fn produce(store: &Store, what: &str, format: Format, filter: Filter, tx: &ChunkSender) {
    let done = match what {
        "requests" => write_pages(
            format,
            tx,
            |last: Option<&fmd_store::RequestRow>| {
                store.requests_after(&filter, last.map_or(i64::MIN, |r| r.id), PAGE)
            },
            request_item,
        ),
        "outliers" => write_pages(
            format,
            tx,
            |last: Option<&fmd_store::OutlierRow>| {
                store.outliers_after(&filter, last.map_or(i64::MIN, |o| o.request_id), PAGE)
            },
            outlier_item,
        ),
        _ => {
            // Groups are few: all read at once, those seen in the range kept.
            let mut read = false;
            write_pages(
                format,
                tx,
                |_: Option<&fmd_store::ExceptionGroup>| {
                    if std::mem::replace(&mut read, true) {
                        return Ok(Vec::new());
                    }
                    let mut groups = Vec::new();
                    loop {
                        let page =
                            store.exception_groups(filter.endpoint, groups.len() as i64, PAGE)?;
                        let last = (page.len() as i64) < PAGE;
                        groups.extend(page);
                        if last {
                            break;
                        }
                    }
                    groups.retain(|g| g.last_seen >= filter.from && g.first_seen < filter.to);
                    Ok(groups)
                },
                group_item,
            )
        }
    };
    if let Err(e) = done {
        log::warn!(target: "fmd", "a download of {what} stopped: {e}");
        let _ = tx.blocking_send(Err(format!("the database failed: {e}")));
    }
}

/// `GET endpoints/{id}/download/{what}?format&from&to&instance`.
pub(crate) async fn download(req: &Req, raw_id: &str, what: &str) -> Result<Reply, ApiError> {
    let id = parse_id(raw_id)?;
    if !DOWNLOADS.split(", ").any(|d| d == what) {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no download {what:?}; an endpoint's downloads are {DOWNLOADS}"),
        ));
    }
    let format = match req.query_param("format").as_deref() {
        None | Some("csv") => Format::Csv,
        Some("json") => Format::Json,
        Some(other) => {
            return Err(super::bad_request(format!(
                "format must be csv or json, not {other:?}"
            )))
        }
    };
    let range = chart_range(req)?;
    let e = endpoint(req, id).await?;
    let instance = instance_filter(req).await?;
    let filter = Filter::endpoint(id)
        .between(range.start, range.end)
        .on_instance(instance);
    let (tx, body) = DashboardBody::channel();
    let inner = req.inner.clone();
    let what_owned = what.to_owned();
    tokio::task::spawn_blocking(move || produce(&inner.store, &what_owned, format, filter, &tx));
    // The endpoint's name in the file name, kept to characters every system accepts.
    let name: String = e
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let (extension, content_type) = match format {
        Format::Csv => ("csv", "text/csv; charset=utf-8"),
        Format::Json => ("json", "application/json"),
    };
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, content_type)
        .header(header::CACHE_CONTROL, "no-store")
        .header(
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"fmd-{name}-{what}-{}-{}.{extension}\"",
                range.from, range.to
            ),
        )
        .body(body)
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("-12.5"), "-12.5", "numbers stay numbers");
        assert_eq!(csv_cell(""), "");
    }

    static SHOP: fmd_core::Endpoint = fmd_core::Endpoint::new(fmd_core::EndpointMeta {
        name: "shop",
        module_path: "downloads",
        function: "shop",
        file: "src/api/downloads.rs",
        line: 1,
        source: "fn shop() {}",
        source_sha256: "0000000000000000000000000000000000000000000000000000000000000003",
    });

    /// 20,000 requests, about 1.5 MB of CSV: the producer stays a few chunks ahead of a reader
    /// that does not read, and a reader gets every row, in chunks, in id order.
    #[test]
    fn downloads_stream_a_few_chunks_ahead_of_the_reader() {
        use fmd_core::Sink;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("fmd.db").display());
        let store = std::sync::Arc::new(Store::open(&url, "fmd_").unwrap());
        let synced = store.sync_endpoints(&[&SHOP], 1, "1").unwrap();
        let mut sink = store
            .sink("1", "a", &synced, 1, std::time::Duration::from_secs(5))
            .unwrap();
        let records: Vec<fmd_core::RequestRecord> = (0..20_000)
            .map(|i| fmd_core::RequestRecord {
                endpoint: &SHOP,
                time_requested: 1_000_000_000 + i,
                duration_us: 1_000 + i as u64,
                status_code: 200,
                ip: None,
                group_by: Some(format!("=user{i}")),
                detail: None,
            })
            .collect();
        for chunk in records.chunks(1_000) {
            sink.write(chunk, &[]).unwrap();
        }
        let filter = Filter::endpoint(synced[0].1);

        let (tx, mut body) = DashboardBody::channel();
        let producer = {
            let store = store.clone();
            std::thread::spawn(move || produce(&store, "requests", Format::Csv, filter, &tx))
        };
        // Nobody reads: the producer fills the channel and waits.
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(
            !producer.is_finished(),
            "the whole file was made without a reader"
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let chunks: Vec<bytes::Bytes> = runtime.block_on(async {
            use futures_util::StreamExt;
            let mut chunks = Vec::new();
            while let Some(chunk) = body.next().await {
                chunks.push(chunk.unwrap());
            }
            chunks
        });
        producer.join().unwrap();
        assert!(chunks.len() > 10, "{} chunks", chunks.len());
        assert!(chunks.iter().all(|c| c.len() < 2 * CHUNK));
        let text: String = chunks
            .iter()
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 20_001, "a header and every request");
        assert!(lines[0].starts_with("id,time_requested,duration_ms"));
        assert!(lines[1].ends_with(",'=user0,,a"), "{}", lines[1]);
        assert!(lines[20_000].contains("'=user19999"), "{}", lines[20_000]);
    }
}
