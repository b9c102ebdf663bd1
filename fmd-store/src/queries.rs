//! The dashboard's queries. Counts and medians are computed in the database.

use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::{Connection, OptionalExtension, QueryableByName, RunQueryDsl};
use serde::Serialize;

use fmd_core::Endpoint;

use crate::db::{Conn, Store};
use crate::StoreError;

/// An endpoint as stored.
#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct EndpointRow {
    /// Database id.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// Name.
    #[diesel(sql_type = Text)]
    pub name: String,
    /// The handler's path, `module::function`.
    #[diesel(sql_type = Text)]
    pub module_path: String,
    /// Source file of the handler.
    #[diesel(sql_type = Text)]
    pub file: String,
    /// First line of the handler's source.
    #[diesel(sql_type = Integer)]
    pub line: i32,
    /// Monitoring level 0-3.
    #[diesel(sql_type = Integer)]
    pub monitor_level: i32,
    /// When first seen, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub time_added: i64,
    /// The version it was first seen in.
    #[diesel(sql_type = Text)]
    pub version_added: String,
    /// Last request, microseconds since the epoch.
    #[diesel(sql_type = Nullable<BigInt>)]
    pub last_requested: Option<i64>,
}

/// One line of the overview.
#[derive(Debug, Clone, Serialize)]
pub struct OverviewRow {
    /// The endpoint.
    pub endpoint: EndpointRow,
    /// Requests since midnight in the dashboard's timezone.
    pub hits_today: i64,
    /// Requests in the last 7 days.
    pub hits_week: i64,
    /// All requests.
    pub hits_overall: i64,
    /// Requests answered with status >= 400, today.
    pub errors_today: i64,
    /// ... in the last 7 days.
    pub errors_week: i64,
    /// ... overall.
    pub errors_overall: i64,
    /// Median duration today, in ms.
    pub median_today_ms: Option<f64>,
    /// Median duration in the last 7 days, in ms.
    pub median_week_ms: Option<f64>,
    /// Median duration overall, in ms.
    pub median_overall_ms: Option<f64>,
    /// Distinct exception groups recorded for the endpoint.
    pub exception_groups: i64,
}

/// One request.
#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct RequestRow {
    /// Database id.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// Duration in microseconds.
    #[diesel(sql_type = BigInt)]
    pub duration_us: i64,
    /// Start, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub time_requested: i64,
    /// The application version.
    #[diesel(sql_type = Text)]
    pub version_requested: String,
    /// The group-by value.
    #[diesel(sql_type = Nullable<Text>)]
    pub group_by: Option<String>,
    /// The client address.
    #[diesel(sql_type = Nullable<Text>)]
    pub ip: Option<String>,
    /// The status code.
    #[diesel(sql_type = Integer)]
    pub status_code: i32,
}

/// A dashboard user.
#[derive(Debug, Clone, QueryableByName)]
pub struct UserRow {
    /// Database id.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// Login name.
    #[diesel(sql_type = Text)]
    pub username: String,
    /// argon2 PHC string.
    #[diesel(sql_type = Text)]
    pub password_hash: String,
    /// Administrator (else guest).
    #[diesel(sql_type = Integer)]
    pub is_admin: i32,
}

#[derive(QueryableByName)]
struct Id {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct Counts {
    #[diesel(sql_type = BigInt)]
    endpoint_id: i64,
    #[diesel(sql_type = BigInt)]
    hits_today: i64,
    #[diesel(sql_type = BigInt)]
    hits_week: i64,
    #[diesel(sql_type = BigInt)]
    hits_overall: i64,
    #[diesel(sql_type = BigInt)]
    errors_today: i64,
    #[diesel(sql_type = BigInt)]
    errors_week: i64,
    #[diesel(sql_type = BigInt)]
    errors_overall: i64,
}

#[derive(QueryableByName)]
struct Duration {
    #[diesel(sql_type = BigInt)]
    duration_us: i64,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Value {
    #[diesel(sql_type = Text)]
    value: String,
}

const ENDPOINT_COLUMNS: &str =
    "id, name, module_path, file, line, monitor_level, time_added, version_added, last_requested";

/// Stores (or finds) the endpoint's row and its source; returns its id and stored level. A new
/// endpoint gets `default_level`; an existing one keeps its stored level.
pub(crate) fn ensure_endpoint(
    conn: &mut Conn,
    prefix: &str,
    endpoint: &Endpoint,
    default_level: u8,
    version: &str,
) -> Result<(i64, u8), diesel::result::Error> {
    let meta = &endpoint.meta;
    let path = endpoint.path();
    let sql = |s: &str| s.replace("{p}", prefix);
    conn.transaction(|c| {
        let function_id = ensure_function(c, prefix, meta.name, meta.source, meta.source_sha256)?;
        let existing = diesel::sql_query(sql(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM {{p}}endpoint WHERE name = ?"
        )))
        .bind::<Text, _>(meta.name)
        .get_result::<EndpointRow>(c)
        .optional()?;
        match existing {
            Some(row) => {
                diesel::sql_query(sql(
                    "UPDATE {p}endpoint SET module_path = ?, file = ?, line = ?, function_id = ? WHERE id = ?",
                ))
                .bind::<Text, _>(&path)
                .bind::<Text, _>(meta.file)
                .bind::<Integer, _>(meta.line as i32)
                .bind::<BigInt, _>(function_id)
                .bind::<BigInt, _>(row.id)
                .execute(c)?;
                Ok((row.id, row.monitor_level.clamp(0, 3) as u8))
            }
            None => {
                diesel::sql_query(sql(
                    "INSERT INTO {p}endpoint (name, module_path, file, line, function_id, monitor_level, time_added, version_added) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                ))
                .bind::<Text, _>(meta.name)
                .bind::<Text, _>(&path)
                .bind::<Text, _>(meta.file)
                .bind::<Integer, _>(meta.line as i32)
                .bind::<BigInt, _>(function_id)
                .bind::<Integer, _>(i32::from(default_level))
                .bind::<BigInt, _>(fmd_core::now_micros())
                .bind::<Text, _>(version)
                .execute(c)?;
                let id = diesel::sql_query(sql("SELECT id FROM {p}endpoint WHERE name = ?"))
                    .bind::<Text, _>(meta.name)
                    .get_result::<Id>(c)?
                    .id;
                Ok((id, default_level))
            }
        }
    })
}

fn ensure_function(
    conn: &mut Conn,
    prefix: &str,
    name: &str,
    code: &str,
    code_hash: &str,
) -> Result<i64, diesel::result::Error> {
    let select = format!("SELECT id FROM {prefix}function_definition WHERE code_hash = ?");
    if let Some(found) = diesel::sql_query(&select)
        .bind::<Text, _>(code_hash)
        .get_result::<Id>(conn)
        .optional()?
    {
        return Ok(found.id);
    }
    diesel::sql_query(format!(
        "INSERT INTO {prefix}function_definition (name, code, code_hash) VALUES (?, ?, ?)"
    ))
    .bind::<Text, _>(name)
    .bind::<Text, _>(code)
    .bind::<Text, _>(code_hash)
    .execute(conn)?;
    Ok(diesel::sql_query(&select)
        .bind::<Text, _>(code_hash)
        .get_result::<Id>(conn)?
        .id)
}

/// The median of an endpoint's durations since `since`, in ms, over `n` rows known to match.
fn median_ms(
    conn: &mut Conn,
    prefix: &str,
    endpoint_id: i64,
    since: i64,
    n: i64,
) -> Result<Option<f64>, StoreError> {
    if n == 0 {
        return Ok(None);
    }
    // The middle one or two rows of the sorted durations: exact, computed by the database.
    let take = if n % 2 == 0 { 2 } else { 1 };
    let rows = diesel::sql_query(format!(
        "SELECT duration_us FROM {prefix}request WHERE endpoint_id = ? AND time_requested >= ? \
         ORDER BY duration_us LIMIT ? OFFSET ?"
    ))
    .bind::<BigInt, _>(endpoint_id)
    .bind::<BigInt, _>(since)
    .bind::<BigInt, _>(take)
    .bind::<BigInt, _>((n - 1) / 2)
    .load::<Duration>(conn)?;
    if rows.is_empty() {
        return Ok(None);
    }
    let sum: i64 = rows.iter().map(|r| r.duration_us).sum();
    Ok(Some(sum as f64 / rows.len() as f64 / 1000.0))
}

impl Store {
    /// Stores every registered endpoint (new ones at `default_level`); returns each with its
    /// database id and stored level.
    pub fn sync_endpoints(
        &self,
        endpoints: &[&'static Endpoint],
        default_level: u8,
        version: &str,
    ) -> Result<Vec<(&'static Endpoint, i64, u8)>, StoreError> {
        let mut conn = self.conn()?;
        endpoints
            .iter()
            .map(|e| {
                let (id, level) =
                    ensure_endpoint(&mut conn, &self.prefix, e, default_level, version)?;
                Ok((*e, id, level))
            })
            .collect()
    }

    /// Every stored endpoint, by name.
    pub fn endpoints(&self) -> Result<Vec<EndpointRow>, StoreError> {
        let sql = self.sql(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM {{p}}endpoint ORDER BY name"
        ));
        Ok(diesel::sql_query(sql).load(&mut *self.conn()?)?)
    }

    /// One endpoint.
    pub fn endpoint(&self, id: i64) -> Result<Option<EndpointRow>, StoreError> {
        let sql = self.sql(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM {{p}}endpoint WHERE id = ?"
        ));
        Ok(diesel::sql_query(sql)
            .bind::<BigInt, _>(id)
            .get_result(&mut *self.conn()?)
            .optional()?)
    }

    /// Stores an endpoint's level; false when there is no such endpoint.
    pub fn set_level(&self, id: i64, level: u8) -> Result<bool, StoreError> {
        let n =
            diesel::sql_query(self.sql("UPDATE {p}endpoint SET monitor_level = ? WHERE id = ?"))
                .bind::<Integer, _>(i32::from(level))
                .bind::<BigInt, _>(id)
                .execute(&mut *self.conn()?)?;
        Ok(n > 0)
    }

    /// The overview: per endpoint, hits and errors since `today` and `week` (microseconds since
    /// the epoch) and overall, and the median durations over the same windows.
    pub fn overview(&self, today: i64, week: i64) -> Result<Vec<OverviewRow>, StoreError> {
        self.overview_rows(today, week, None)
    }

    /// The overview's row of one endpoint.
    pub fn overview_of(
        &self,
        id: i64,
        today: i64,
        week: i64,
    ) -> Result<Option<OverviewRow>, StoreError> {
        Ok(self.overview_rows(today, week, Some(id))?.pop())
    }

    fn overview_rows(
        &self,
        today: i64,
        week: i64,
        only: Option<i64>,
    ) -> Result<Vec<OverviewRow>, StoreError> {
        let mut conn = self.conn()?;
        let endpoints = match only {
            Some(id) => self.endpoint(id)?.into_iter().collect(),
            None => self.endpoints()?,
        };
        // One endpoint, or all: a range keeps the SQL the same for both.
        let (low, high) = only.map(|id| (id, id)).unwrap_or((i64::MIN, i64::MAX));
        let counts: Vec<Counts> = diesel::sql_query(self.sql(
            "SELECT endpoint_id, \
               COALESCE(SUM(CASE WHEN time_requested >= ? THEN 1 ELSE 0 END), 0) AS hits_today, \
               COALESCE(SUM(CASE WHEN time_requested >= ? THEN 1 ELSE 0 END), 0) AS hits_week, \
               COUNT(*) AS hits_overall, \
               COALESCE(SUM(CASE WHEN time_requested >= ? AND status_code >= 400 THEN 1 ELSE 0 END), 0) AS errors_today, \
               COALESCE(SUM(CASE WHEN time_requested >= ? AND status_code >= 400 THEN 1 ELSE 0 END), 0) AS errors_week, \
               COALESCE(SUM(CASE WHEN status_code >= 400 THEN 1 ELSE 0 END), 0) AS errors_overall \
             FROM {p}request WHERE endpoint_id BETWEEN ? AND ? GROUP BY endpoint_id",
        ))
        .bind::<BigInt, _>(today)
        .bind::<BigInt, _>(week)
        .bind::<BigInt, _>(today)
        .bind::<BigInt, _>(week)
        .bind::<BigInt, _>(low)
        .bind::<BigInt, _>(high)
        .load(&mut *conn)?;
        let groups: Vec<(i64, i64)> = diesel::sql_query(self.sql(
            "SELECT endpoint_id, COUNT(DISTINCT stack_trace_snapshot_id) AS n FROM {p}exception_occurrence \
             WHERE endpoint_id BETWEEN ? AND ? GROUP BY endpoint_id",
        ))
        .bind::<BigInt, _>(low)
        .bind::<BigInt, _>(high)
        .load::<GroupCount>(&mut *conn)?
        .into_iter()
        .map(|g| (g.endpoint_id, g.n))
        .collect();
        endpoints
            .into_iter()
            .map(|endpoint| {
                let c = counts.iter().find(|c| c.endpoint_id == endpoint.id);
                let get = |f: fn(&Counts) -> i64| c.map(f).unwrap_or(0);
                let (today_n, week_n, all_n) = (
                    get(|c| c.hits_today),
                    get(|c| c.hits_week),
                    get(|c| c.hits_overall),
                );
                Ok(OverviewRow {
                    median_today_ms: median_ms(
                        &mut conn,
                        &self.prefix,
                        endpoint.id,
                        today,
                        today_n,
                    )?,
                    median_week_ms: median_ms(&mut conn, &self.prefix, endpoint.id, week, week_n)?,
                    median_overall_ms: median_ms(
                        &mut conn,
                        &self.prefix,
                        endpoint.id,
                        i64::MIN,
                        all_n,
                    )?,
                    hits_today: today_n,
                    hits_week: week_n,
                    hits_overall: all_n,
                    errors_today: get(|c| c.errors_today),
                    errors_week: get(|c| c.errors_week),
                    errors_overall: get(|c| c.errors_overall),
                    exception_groups: groups
                        .iter()
                        .find(|g| g.0 == endpoint.id)
                        .map(|g| g.1)
                        .unwrap_or(0),
                    endpoint,
                })
            })
            .collect()
    }

    /// An endpoint's requests, newest first.
    pub fn requests(
        &self,
        endpoint_id: i64,
        offset: i64,
        limit: i64,
    ) -> Result<Vec<RequestRow>, StoreError> {
        Ok(diesel::sql_query(self.sql(
            "SELECT id, duration_us, time_requested, version_requested, group_by, ip, status_code \
             FROM {p}request WHERE endpoint_id = ? ORDER BY time_requested DESC, id DESC LIMIT ? OFFSET ?",
        ))
        .bind::<BigInt, _>(endpoint_id)
        .bind::<BigInt, _>(limit)
        .bind::<BigInt, _>(offset)
        .load(&mut *self.conn()?)?)
    }

    /// How many requests an endpoint has.
    pub fn request_count(&self, endpoint_id: i64) -> Result<i64, StoreError> {
        Ok(diesel::sql_query(
            self.sql("SELECT COUNT(*) AS n FROM {p}request WHERE endpoint_id = ?"),
        )
        .bind::<BigInt, _>(endpoint_id)
        .get_result::<Count>(&mut *self.conn()?)?
        .n)
    }

    /// A dashboard user by name.
    pub fn user(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        Ok(diesel::sql_query(self.sql(
            "SELECT id, username, password_hash, is_admin FROM {p}dashboard_user WHERE username = ?",
        ))
        .bind::<Text, _>(username)
        .get_result(&mut *self.conn()?)
        .optional()?)
    }

    /// Creates the user, or replaces its password hash and role.
    pub fn upsert_user(
        &self,
        username: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        conn.transaction(|c| {
            let updated = diesel::sql_query(self.sql(
                "UPDATE {p}dashboard_user SET password_hash = ?, is_admin = ? WHERE username = ?",
            ))
            .bind::<Text, _>(password_hash)
            .bind::<Integer, _>(i32::from(is_admin))
            .bind::<Text, _>(username)
            .execute(c)?;
            if updated == 0 {
                diesel::sql_query(self.sql(
                    "INSERT INTO {p}dashboard_user (username, password_hash, is_admin) VALUES (?, ?, ?)",
                ))
                .bind::<Text, _>(username)
                .bind::<Text, _>(password_hash)
                .bind::<Integer, _>(i32::from(is_admin))
                .execute(c)?;
            }
            Ok::<_, diesel::result::Error>(())
        })?;
        Ok(())
    }

    /// How many administrators exist.
    pub fn admin_count(&self) -> Result<i64, StoreError> {
        Ok(diesel::sql_query(
            self.sql("SELECT COUNT(*) AS n FROM {p}dashboard_user WHERE is_admin = 1"),
        )
        .get_result::<Count>(&mut *self.conn()?)?
        .n)
    }

    /// The stored value of a setting, storing `value` first when there is none. Concurrent
    /// callers all get the value that was stored first.
    pub fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        let mut conn = self.conn()?;
        let select = self.sql("SELECT value FROM {p}setting WHERE name = ?");
        let current = |c: &mut Conn| {
            diesel::sql_query(&select)
                .bind::<Text, _>(name)
                .get_result::<Value>(c)
                .optional()
        };
        if let Some(v) = current(&mut conn)? {
            return Ok(v.value);
        }
        let inserted =
            diesel::sql_query(self.sql("INSERT INTO {p}setting (name, value) VALUES (?, ?)"))
                .bind::<Text, _>(name)
                .bind::<Text, _>(value)
                .execute(&mut *conn);
        match inserted {
            Ok(_) => Ok(value.to_owned()),
            // Another instance stored one first: use theirs.
            Err(_) => Ok(current(&mut conn)?
                .map(|v| v.value)
                .unwrap_or_else(|| value.to_owned())),
        }
    }
}

#[derive(QueryableByName)]
struct GroupCount {
    #[diesel(sql_type = BigInt)]
    endpoint_id: i64,
    #[diesel(sql_type = BigInt)]
    n: i64,
}
