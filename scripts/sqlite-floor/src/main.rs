//! Inserts `B` batches of `R` request rows (one `BEGIN IMMEDIATE` transaction each) into the
//! request table of fmd's schema, in multi-row statements of 100, 10 and 1 rows as fmd's
//! writer does, with the rows of `benches/writer.rs`. `MODE=rusqlite` binds through rusqlite's
//! cached statements; `MODE=ffi` through raw `libsqlite3-sys` calls on statements held for the
//! run, text bound without a copy. The connection is opened without SQLite's per-connection
//! mutex (rusqlite's default) unless `FULLMUTEX` is set (as diesel opens it).

use rusqlite::{ffi, Connection, OpenFlags, TransactionBehavior};

const CHUNKS: [usize; 3] = [100, 10, 1];

/// The connection's settings, as fmd's pool sets them up for SQLite (`fmd-store/src/db.rs`).
const SETUP: &str =
    "PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;";

/// fmd's schema: every migration of `fmd-store/migrations`, in order, with the placeholders
/// expanded as `fmd_store::migrations::render` expands them for SQLite (prefix `fmd_`). Read
/// from the files rather than copied, so that an index a migration adds is counted here too.
fn create_schema(conn: &Connection) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../fmd-store/migrations");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("fmd-store/migrations")
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    for file in files {
        let sql = std::fs::read_to_string(&file)
            .unwrap()
            .replace("{p}", "fmd_")
            .replace("{id}", "INTEGER PRIMARY KEY AUTOINCREMENT")
            .replace("{bool}", "INTEGER")
            .replace("{text}", "TEXT")
            .replace("{table_options}", "");
        conn.execute_batch(&sql)
            .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    }
}

/// The statement fmd's writer prepares for `n` rows: version and instance as literals.
fn insert_sql(n: usize) -> String {
    let mut sql = String::from(
        "INSERT OR ROLLBACK INTO fmd_request (endpoint_id, duration_us, time_requested, group_by, ip, status_code, version_requested, instance_id) VALUES ",
    );
    for i in 0..n {
        sql.push_str(if i == 0 { "" } else { ", " });
        sql.push_str("(?, ?, ?, ?, ?, ?, '1.0', 1)");
    }
    sql
}

/// Row `i` of a batch starting at `t0`, as `benches/writer.rs` makes it.
struct Row<'a> {
    endpoint_id: i64,
    duration_us: i64,
    time_requested: i64,
    group_by: &'a str,
    ip: &'a str,
    status_code: i32,
}

fn row(groups: &[String], t0: i64, i: usize) -> Row<'_> {
    let i = i as i64;
    Row {
        endpoint_id: 1,
        duration_us: 150 + i % 50,
        time_requested: t0 + i,
        group_by: &groups[(i % 17) as usize],
        ip: "127.0.0.1",
        status_code: 200,
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).map_or(default, |v| v.parse().expect("a number"))
}

fn main() {
    let batches = env("B", 2);
    let rows = env("R", 1000);
    let mode = std::env::var("MODE").unwrap_or_else(|_| "ffi".into());
    let mutex = if std::env::var_os("FULLMUTEX").is_some() {
        OpenFlags::SQLITE_OPEN_FULL_MUTEX
    } else {
        OpenFlags::SQLITE_OPEN_NO_MUTEX
    };
    let dir = std::env::temp_dir().join(format!("sqlite-floor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | mutex;
    let mut conn = Connection::open_with_flags(dir.join("fmd.db"), flags).unwrap();
    conn.execute_batch(SETUP).unwrap();
    create_schema(&conn);
    let groups: Vec<String> = (0..17).map(|i| format!("(User,{i})")).collect();
    let sql: Vec<String> = CHUNKS.into_iter().map(insert_sql).collect();
    match mode.as_str() {
        "rusqlite" => rusqlite_batches(&mut conn, &sql, &groups, batches, rows),
        "ffi" => ffi_batches(&conn, &sql, &groups, batches, rows),
        other => panic!("MODE is rusqlite or ffi, not {other}"),
    }
    drop(conn);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The chunks of a batch of `rows`: (index into `CHUNKS`, first row).
fn chunks(rows: usize) -> impl Iterator<Item = (usize, usize)> {
    let mut done = 0;
    std::iter::from_fn(move || {
        let k = CHUNKS.iter().position(|s| *s <= rows - done)?;
        let first = done;
        done += CHUNKS[k];
        Some((k, first))
    })
}

fn rusqlite_batches(
    conn: &mut Connection,
    sql: &[String],
    groups: &[String],
    batches: usize,
    rows: usize,
) {
    conn.set_prepared_statement_cache_capacity(16);
    for b in 0..batches {
        let t0 = 1_700_000_000_000_000 + 1000 * b as i64;
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .unwrap();
        for (k, first) in chunks(rows) {
            let mut stmt = tx.prepare_cached(&sql[k]).unwrap();
            for (j, i) in (first..first + CHUNKS[k]).enumerate() {
                let r = row(groups, t0, i);
                let p = 6 * j + 1;
                stmt.raw_bind_parameter(p, r.endpoint_id).unwrap();
                stmt.raw_bind_parameter(p + 1, r.duration_us).unwrap();
                stmt.raw_bind_parameter(p + 2, r.time_requested).unwrap();
                stmt.raw_bind_parameter(p + 3, r.group_by).unwrap();
                stmt.raw_bind_parameter(p + 4, r.ip).unwrap();
                stmt.raw_bind_parameter(p + 5, r.status_code).unwrap();
            }
            stmt.raw_execute().unwrap();
        }
        tx.commit().unwrap();
    }
}

fn ffi_batches(conn: &Connection, sql: &[String], groups: &[String], batches: usize, rows: usize) {
    // SAFETY (all blocks below): the statements belong to `conn`, which outlives them; each
    // text bound SQLITE_STATIC lives in `groups` or is static, and so outlives the step that
    // reads it.
    let db = unsafe { conn.handle() };
    let stmts: Vec<*mut ffi::sqlite3_stmt> = sql
        .iter()
        .map(|q| {
            let mut stmt = std::ptr::null_mut();
            let text = std::ffi::CString::new(q.as_str()).unwrap();
            let flags = ffi::SQLITE_PREPARE_PERSISTENT as u32;
            let rc = unsafe {
                ffi::sqlite3_prepare_v3(
                    db,
                    text.as_ptr(),
                    -1,
                    flags,
                    &mut stmt,
                    std::ptr::null_mut(),
                )
            };
            assert_eq!(rc, ffi::SQLITE_OK);
            stmt
        })
        .collect();
    let text = |stmt, p: i32, s: &str| unsafe {
        ffi::sqlite3_bind_text64(
            stmt,
            p,
            s.as_ptr().cast(),
            s.len() as u64,
            ffi::SQLITE_STATIC(),
            ffi::SQLITE_UTF8 as u8,
        )
    };
    for b in 0..batches {
        let t0 = 1_700_000_000_000_000 + 1000 * b as i64;
        conn.execute_batch("BEGIN IMMEDIATE").unwrap();
        for (k, first) in chunks(rows) {
            let stmt = stmts[k];
            for (j, i) in (first..first + CHUNKS[k]).enumerate() {
                let r = row(groups, t0, i);
                let p = 6 * j as i32 + 1;
                unsafe {
                    ffi::sqlite3_bind_int64(stmt, p, r.endpoint_id);
                    ffi::sqlite3_bind_int64(stmt, p + 1, r.duration_us);
                    ffi::sqlite3_bind_int64(stmt, p + 2, r.time_requested);
                    text(stmt, p + 3, r.group_by);
                    text(stmt, p + 4, r.ip);
                    ffi::sqlite3_bind_int(stmt, p + 5, r.status_code);
                }
            }
            unsafe {
                assert_eq!(ffi::sqlite3_step(stmt), ffi::SQLITE_DONE);
                ffi::sqlite3_reset(stmt);
            }
        }
        conn.execute_batch("COMMIT").unwrap();
    }
    for stmt in stmts {
        unsafe { ffi::sqlite3_finalize(stmt) };
    }
}
