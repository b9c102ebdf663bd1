//! Exceptions as the writer stores them, normalised as in the thesis: types, messages, stack trace
//! snapshots (one per group), frames, their positions, and occurrences linked to requests. Each
//! table is deduplicated, so a repeated exception costs one occurrence row.
//!
//! Only the application's frames identify a group; library frames are kept for display.
//! Grouping goes beyond the thesis in two ways. A frame is identified by its function, the
//! function's code hash and the line's offset from the function's first line, so an edit
//! elsewhere in the file that shifts the line keeps the group. And the message is normalised
//! ([`fmd_core::exception::normalize_message`]) before it joins the group's hash, so errors
//! differing only in ids or numbers group together; every distinct message is still stored and
//! counted.

use diesel::sql_types::{BigInt, Integer, Text};
use diesel::RunQueryDsl;

use crate::db::{with_conn, AnyConn, Dialect};
use crate::rows::{Count, Id};
use crate::write::ensure::{ensure_location, Code};
use fmd_core::exception::{
    normalize_message, resolve, CapturedError, Origin, ResolvedFrame, Stack,
};
use sha2::{Digest, Sha256};

/// Frames kept per exception: a deep recursion would otherwise store thousands.
const MAX_FRAMES: usize = 200;

/// The identity of a frame in a registered function: the function, its code, and the line's
/// offset from the function's first line. An edit elsewhere in the file moves the line but
/// keeps the frame; an edit of the function's code makes a new one.
pub(crate) fn registered_frame_hash(meta: &fmd_core::EndpointMeta, line: u32) -> String {
    let offset = line.saturating_sub(meta.line);
    sha(&format!(
        "{}::{}\n{}\n+{offset}",
        meta.module_path, meta.name, meta.source_sha256
    ))
}

fn sha(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// An exception resolved and hashed, its function locations stored: ready to be written with
/// its request in the writer's transaction.
#[derive(Debug)]
pub(crate) struct Prepared {
    type_name: String,
    message: String,
    user_captured: bool,
    time: i64,
    group_hash: String,
    frames: Vec<PreparedFrame>,
}

#[derive(Debug, Clone)]
pub(crate) struct PreparedFrame {
    location_id: i64,
    line: u32,
    hash: String,
    library: bool,
}

/// The text stored as the message: `Display`, then the `source()` chain.
fn full_message(e: &CapturedError) -> String {
    let mut text = e.message.clone();
    if !e.chain.is_empty() {
        text.push_str("\n\nCaused by:");
        for (i, cause) in e.chain.iter().enumerate() {
            text.push_str(&format!("\n  {i}: {cause}"));
        }
    }
    text
}

/// The application's root folder, from a frame that matched a registered function: its
/// absolute path ends with the `file!()` path, which is relative to that root.
fn app_root(frames: &[ResolvedFrame]) -> Option<String> {
    frames.iter().find_map(|f| {
        let meta = f.registered?;
        f.file
            .strip_suffix(meta.file)
            .map(|root| root.trim_end_matches('/').to_owned())
    })
}

/// Stacks already resolved and stored, by their return addresses: a repeated exception is
/// resolved (which reads debug info) once per process.
#[derive(Debug, Default)]
pub(crate) struct FrameCache(std::collections::HashMap<Vec<usize>, Vec<PreparedFrame>>);

/// Resolves `e`'s stack off the request path, stores its function locations, and hashes it.
pub(crate) fn prepare(
    conn: &mut AnyConn,
    d: &Dialect,
    e: &CapturedError,
    cache: &mut FrameCache,
) -> Result<Prepared, diesel::result::Error> {
    let key: Vec<usize> = match &e.stack {
        Stack::Backtrace(addresses) => addresses.clone(),
        Stack::Functions(list) => list
            .iter()
            .flat_map(|(m, line)| [*m as *const _ as usize, *line as usize])
            .collect(),
    };
    let frames = match cache.0.get(&key) {
        Some(frames) => frames.clone(),
        None => {
            let frames = store_frames(conn, d, e)?;
            cache.0.insert(key, frames.clone());
            frames
        }
    };
    let message = full_message(e);
    let mut group = format!("{}\n{}", e.type_name, normalize_message(&message));
    // Library frames are stored and shown, but do not split groups: which path the runtime (or
    // fmd's own wrapper) took to reach the application's code says nothing about the error.
    for f in frames.iter().filter(|f| !f.library) {
        group.push('\n');
        group.push_str(&f.hash);
    }
    Ok(Prepared {
        type_name: e.type_name.clone(),
        message,
        user_captured: e.origin == Origin::Captured,
        time: e.time,
        group_hash: sha(&group),
        frames,
    })
}

fn store_frames(
    conn: &mut AnyConn,
    d: &Dialect,
    e: &CapturedError,
) -> Result<Vec<PreparedFrame>, diesel::result::Error> {
    let mut resolved = match &e.stack {
        Stack::Backtrace(addresses) => resolve(addresses),
        Stack::Functions(list) => list
            .iter()
            .map(|(meta, line)| ResolvedFrame {
                function: meta.name.to_owned(),
                file: meta.file.to_owned(),
                line: *line,
                registered: Some(*meta),
                library: false,
            })
            .collect(),
    };
    resolved.truncate(MAX_FRAMES);
    // A binary without debug info resolves no file or line: the capture site, which the macro
    // knows, is then the one frame of the application's.
    if resolved.iter().all(|f| f.library) {
        if let Some((file, line)) = &e.site {
            let registered = fmd_core::exception::registered_at(file, *line);
            resolved.insert(
                0,
                ResolvedFrame {
                    function: registered.map_or("(capture site)", |m| m.name).to_owned(),
                    file: file.clone(),
                    line: *line,
                    registered,
                    library: false,
                },
            );
        }
    }
    let root = app_root(&resolved);
    let mut frames = Vec::with_capacity(resolved.len());
    for f in &resolved {
        let (location_id, hash) = match f.registered {
            Some(meta) => {
                let hash = registered_frame_hash(meta, f.line);
                let name = meta.display_name();
                let code = Code {
                    name: &name,
                    code: meta.source,
                    code_hash: meta.source_sha256,
                };
                (
                    ensure_location(conn, d, &code, &f.file, meta.file, meta.line)?,
                    hash,
                )
            }
            None => {
                // No source fmd knows: identified by name and place. Library frames have no
                // path relative to the application.
                let relative = match (&root, f.library) {
                    (_, true) => String::new(),
                    (Some(root), false) => f
                        .file
                        .strip_prefix(root.as_str())
                        .map(|r| r.trim_start_matches('/').to_owned())
                        .unwrap_or_else(|| f.file.clone()),
                    (None, false) => f.file.clone(),
                };
                let code_hash = sha(&format!("frame\n{}\n{}", f.function, f.file));
                let code = Code {
                    name: &f.function,
                    code: "",
                    code_hash: &code_hash,
                };
                let hash = sha(&format!("{}\n{}\n{}", f.function, f.file, f.line));
                (
                    ensure_location(conn, d, &code, &f.file, &relative, 0)?,
                    hash,
                )
            }
        };
        frames.push(PreparedFrame {
            location_id,
            line: f.line,
            hash,
            library: f.library,
        });
    }
    Ok(frames)
}

/// The id of the row `select` (one `?`) finds for `key`.
fn id_of(
    conn: &mut AnyConn,
    d: &Dialect,
    select: &str,
    key: &str,
) -> Result<i64, diesel::result::Error> {
    let query = diesel::sql_query(d.sql(select)).bind::<Text, _>(key);
    Ok(with_conn!(conn, c => query.get_result::<Id>(c))?.id)
}

/// Writes one occurrence of a prepared exception for the request row `request_id`, storing its
/// type, message, snapshot and frames unless they exist.
pub(crate) fn write_exception(
    conn: &mut AnyConn,
    d: &Dialect,
    request_id: i64,
    endpoint_id: i64,
    p: &Prepared,
) -> Result<(), diesel::result::Error> {
    let type_name = crate::rows::truncate(&p.type_name, 255);
    let insert = diesel::sql_query(
        d.sql("{insert_ignore} INTO {p}exception_type (name) VALUES (?){on_conflict_ignore}"),
    )
    .bind::<Text, _>(type_name);
    with_conn!(conn, c => insert.execute(c))?;
    let type_id = id_of(
        conn,
        d,
        "SELECT id FROM {p}exception_type WHERE name = ?",
        type_name,
    )?;

    let message_hash = sha(&p.message);
    let insert = diesel::sql_query(d.sql(
        "{insert_ignore} INTO {p}exception_message (message, message_hash) VALUES (?, ?){on_conflict_ignore}",
    ))
    .bind::<Text, _>(&p.message)
    .bind::<Text, _>(&message_hash);
    with_conn!(conn, c => insert.execute(c))?;
    let message_id = id_of(
        conn,
        d,
        "SELECT id FROM {p}exception_message WHERE message_hash = ?",
        &message_hash,
    )?;

    let insert = diesel::sql_query(d.sql(
        "{insert_ignore} INTO {p}stack_trace_snapshot (chained_hash, created) VALUES (?, ?){on_conflict_ignore}",
    ))
    .bind::<Text, _>(&p.group_hash)
    // When the group was stored, not when it occurred: new-exception alerts look back from
    // here, and a backlog written late is still new.
    .bind::<BigInt, _>(fmd_core::now_micros());
    with_conn!(conn, c => insert.execute(c))?;
    let snapshot_id = id_of(
        conn,
        d,
        "SELECT id FROM {p}stack_trace_snapshot WHERE chained_hash = ?",
        &p.group_hash,
    )?;
    // The snapshot's lines are written by its first occurrence; later ones find them.
    let written = diesel::sql_query(d.sql(
        "SELECT COUNT(*) AS n FROM {p}exception_stack_line WHERE stack_trace_snapshot_id = ?",
    ))
    .bind::<BigInt, _>(snapshot_id);
    let written = with_conn!(conn, c => written.get_result::<Count>(c))?.n > 0;
    for (position, f) in p.frames.iter().enumerate().filter(|_| !written) {
        let insert = diesel::sql_query(d.sql(
            "{insert_ignore} INTO {p}exception_frame (function_location_id, line_number, frame_hash) VALUES (?, ?, ?){on_conflict_ignore}",
        ))
        .bind::<BigInt, _>(f.location_id)
        .bind::<Integer, _>(f.line as i32)
        .bind::<Text, _>(&f.hash);
        with_conn!(conn, c => insert.execute(c))?;
        let frame_id = id_of(
            conn,
            d,
            "SELECT id FROM {p}exception_frame WHERE frame_hash = ?",
            &f.hash,
        )?;
        // Two instances may write a new snapshot's lines at once: the key keeps one copy.
        let insert = diesel::sql_query(d.sql(
            "{insert_ignore} INTO {p}exception_stack_line (stack_trace_snapshot_id, exception_frame_id, position) VALUES (?, ?, ?){on_conflict_ignore}",
        ))
        .bind::<BigInt, _>(snapshot_id)
        .bind::<BigInt, _>(frame_id)
        .bind::<Integer, _>(position as i32);
        with_conn!(conn, c => insert.execute(c))?;
    }

    let insert = diesel::sql_query(d.sql(
        "INSERT INTO {p}exception_occurrence (request_id, endpoint_id, exception_type_id, exception_message_id, stack_trace_snapshot_id, is_user_captured, time_occurred) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    ))
    .bind::<BigInt, _>(request_id)
    .bind::<BigInt, _>(endpoint_id)
    .bind::<BigInt, _>(type_id)
    .bind::<BigInt, _>(message_id)
    .bind::<BigInt, _>(snapshot_id)
    .bind::<Integer, _>(i32::from(p.user_captured))
    .bind::<BigInt, _>(p.time);
    with_conn!(conn, c => insert.execute(c))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use fmd_core::EndpointMeta;

    fn meta(line: u32, sha: &'static str) -> EndpointMeta {
        EndpointMeta {
            name: "load",
            module_path: "app::db",
            function: "load",
            file: "src/db.rs",
            line,
            source: "fn load() {}",
            source_sha256: sha,
        }
    }

    #[test]
    fn frames_survive_shifted_lines_but_not_changed_code() {
        let before = registered_frame_hash(&meta(10, "aa"), 14);
        // Three lines added above the function: same function, same code, same offset.
        assert_eq!(before, registered_frame_hash(&meta(13, "aa"), 17));
        // Another line of the same function.
        assert_ne!(before, registered_frame_hash(&meta(10, "aa"), 15));
        // The function's code changed.
        assert_ne!(before, registered_frame_hash(&meta(10, "bb"), 14));
    }
}
