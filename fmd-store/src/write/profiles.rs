//! Profiles, spans and outliers of the requests the writer stores (levels 2 and 3), and the
//! log events kept with an outlier or an exception.

use std::collections::HashMap;

use diesel::sql_types::{BigInt, Integer, Text};
use diesel::RunQueryDsl;
use serde::Serialize;

use crate::db::{with_conn, AnyConn, Dialect};
use crate::rows::{Stack, StackFrame};
use fmd_core::profile::{depth, RequestDetail};
use fmd_core::Function;

/// Spans per INSERT statement: their values are integers, written as literals, so the
/// statement's length is the only limit.
const SPAN_ROWS_PER_INSERT: usize = 250;

/// Every function a detail names: its spans' and its stuck snapshot's.
pub(crate) fn functions_of(detail: &RequestDetail) -> impl Iterator<Item = &'static Function> + '_ {
    let stuck = detail
        .outlier
        .iter()
        .filter_map(|o| o.stuck.as_ref())
        .flat_map(|s| s.frames.iter().map(|f| f.function));
    detail.spans.iter().map(|s| s.function).chain(stuck)
}

fn function_key(f: &'static Function) -> usize {
    f as *const Function as usize
}

/// Function location ids by function, for the writer.
#[derive(Debug, Default)]
pub(crate) struct FunctionIds(HashMap<usize, i64>);

impl FunctionIds {
    pub(crate) fn get(&self, f: &'static Function) -> i64 {
        self.0.get(&function_key(f)).copied().unwrap_or(0)
    }

    pub(crate) fn contains(&self, f: &'static Function) -> bool {
        self.0.contains_key(&function_key(f))
    }

    pub(crate) fn insert(&mut self, f: &'static Function, id: i64) {
        self.0.insert(function_key(f), id);
    }
}

/// Writes a request's span tree, outlier row and log events, for the request row `request_id`.
pub(crate) fn write_detail(
    conn: &mut AnyConn,
    d: &Dialect,
    request_id: i64,
    endpoint_id: i64,
    record: &fmd_core::RequestRecord,
    detail: &RequestDetail,
    ids: &FunctionIds,
) -> Result<(), diesel::result::Error> {
    if detail.profiled {
        let profile = diesel::sql_query(d.sql(
            "INSERT INTO {p}profile (request_id, endpoint_id, time_requested, duration_us, span_count, dropped_spans) \
             VALUES (?, ?, ?, ?, ?, ?)",
        ))
        .bind::<BigInt, _>(request_id)
        .bind::<BigInt, _>(endpoint_id)
        .bind::<BigInt, _>(record.time_requested)
        .bind::<BigInt, _>(record.duration_us.min(i64::MAX as u64) as i64)
        .bind::<Integer, _>(detail.spans.len() as i32)
        .bind::<Integer, _>(detail.dropped_spans.min(i32::MAX as u32) as i32);
        with_conn!(conn, c => profile.execute(c))?;
        let head = d.sql(
            "INSERT INTO {p}profile_span (request_id, position, parent_position, depth, function_location_id, start_us, duration_us, cancelled) VALUES ",
        );
        for (chunk_index, chunk) in detail.spans.chunks(SPAN_ROWS_PER_INSERT).enumerate() {
            let mut sql = head.clone();
            for (i, span) in chunk.iter().enumerate() {
                let position = chunk_index * SPAN_ROWS_PER_INSERT + i;
                let parent = match span.parent {
                    fmd_core::profile::ROOT => "NULL".to_owned(),
                    p => p.to_string(),
                };
                if i > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!(
                    "({request_id}, {position}, {parent}, {}, {}, {}, {}, {})",
                    depth(&detail.spans, span.parent),
                    ids.get(span.function),
                    span.start_ns / 1_000,
                    span.duration_ns / 1_000,
                    i32::from(span.cancelled),
                ));
            }
            let query = diesel::sql_query(sql);
            with_conn!(conn, c => query.execute(c))?;
        }
    }
    write_events(conn, d, request_id, &detail.events)?;
    let Some(outlier) = &detail.outlier else {
        return Ok(());
    };
    let (figures, stack) = match &outlier.stuck {
        Some(stuck) => {
            let frames: Vec<StackFrame> = stuck
                .frames
                .iter()
                .map(|f| StackFrame {
                    function_id: ids.get(f.function),
                    function: f.function.meta.display_name(),
                    depth: f.depth,
                    running_ms: f.running_us as f64 / 1000.0,
                })
                .collect();
            let stack = Stack {
                after_ms: Some(stuck.after_us as f64 / 1000.0),
                frames,
            };
            (stuck.figures.clone(), stack)
        }
        // Judged when it ended, before the watchdog saw it: the figures are read now, still
        // off the request path, and the spans stored above show where the time went.
        None => (fmd_core::outlier::system_figures(), Stack::default()),
    };
    let insert = diesel::sql_query(d.sql(
        "INSERT INTO {p}outlier (request_id, endpoint_id, time_requested, request_url, request_method, request_headers, cpu_percent, memory_bytes, system_memory_bytes, stuck_stack) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind::<BigInt, _>(request_id)
    .bind::<BigInt, _>(endpoint_id)
    .bind::<BigInt, _>(record.time_requested)
    .bind::<Text, _>(&outlier.url)
    .bind::<Text, _>(&outlier.method)
    .bind::<Text, _>(json(&outlier.headers))
    .bind::<Text, _>(json(&figures.cpu_percent))
    .bind::<BigInt, _>(figures.memory_bytes.min(i64::MAX as u64) as i64)
    .bind::<BigInt, _>(figures.system_memory_bytes.min(i64::MAX as u64) as i64)
    .bind::<Text, _>(json(&stack));
    with_conn!(conn, c => insert.execute(c))?;
    Ok(())
}

/// Longest target stored (the column's width); longer ones are cut at a character boundary.
const TARGET_CHARS: usize = 255;

fn write_events(
    conn: &mut AnyConn,
    d: &Dialect,
    request_id: i64,
    events: &[fmd_core::events::LogEvent],
) -> Result<(), diesel::result::Error> {
    for (position, event) in events.iter().enumerate() {
        let target: String = event.target.chars().take(TARGET_CHARS).collect();
        let insert = diesel::sql_query(d.sql(
            "INSERT INTO {p}request_event (request_id, position, time_logged, level, target, message, fields) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        ))
        .bind::<BigInt, _>(request_id)
        .bind::<Integer, _>(position as i32)
        .bind::<BigInt, _>(event.time_us)
        .bind::<Text, _>(event.level)
        .bind::<Text, _>(target)
        .bind::<Text, _>(&event.message)
        .bind::<Text, _>(json(&event.fields));
        with_conn!(conn, c => insert.execute(c))?;
    }
    Ok(())
}

/// JSON text for a text column; serializing plain data cannot fail.
fn json<T: Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".into())
}
