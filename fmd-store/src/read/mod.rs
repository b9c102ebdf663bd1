//! The read side: every query the dashboard's pages and JSON API make. Counts and percentiles
//! come from the hourly rollups (see [`crate::histogram`]) and, for small windows and partial
//! hours, from the request rows.

use diesel::sql_types::{BigInt, Integer};
use diesel::{QueryableByName, RunQueryDsl};

use crate::db::{with_conn, AnyConn, Dialect};
use crate::histogram::HourRow;
use crate::StoreError;

pub(crate) mod charts;
pub(crate) mod events;
pub(crate) mod exceptions;
pub(crate) mod export;
pub(crate) mod graphs;
pub(crate) mod overview;
pub(crate) mod profiles;
pub(crate) mod timeline;

/// The columns of a [`RequestRow`](crate::RequestRow), from `{p}request r` joined with its
/// instance; add the `WHERE`, with the alias `r.` in a filter's condition.
pub(crate) const REQUEST_SELECT: &str =
    "SELECT r.id, r.duration_us, r.time_requested, r.version_requested, r.group_by, r.ip, \
       r.status_code, i.name AS instance \
     FROM {p}request r LEFT JOIN {p}instance i ON i.id = r.instance_id";

/// Windows with at most this many requests get exact percentiles from their rows; larger ones
/// are read off the hourly histograms (within 2.5 %).
pub(crate) const EXACT_LIMIT: i64 = 2_000;

#[derive(QueryableByName)]
pub(crate) struct Timed {
    #[diesel(sql_type = BigInt)]
    pub(crate) time_requested: i64,
    #[diesel(sql_type = BigInt)]
    pub(crate) duration_us: i64,
    #[diesel(sql_type = Integer)]
    pub(crate) status_code: i32,
}

/// The time, duration and status of the requests the filter covers.
pub(crate) fn timed(
    conn: &mut AnyConn,
    d: &Dialect,
    filter: &Filter,
) -> Result<Vec<Timed>, StoreError> {
    let query = bind_filter!(
        diesel::sql_query(d.sql(&format!(
            "SELECT time_requested, duration_us, status_code FROM {{p}}request WHERE {}",
            filter.condition("", "time_requested")
        ))),
        filter
    );
    Ok(with_conn!(conn, c => query.load(c))?)
}

/// A query of `columns` (SQL text) of the rollup rows whose hours start in the
/// [`Filter`]'s range, ready to load.
macro_rules! hours_query {
    ($d:expr, $columns:expr, $filter:expr) => {{
        let filter: &$crate::read::Filter = $filter;
        $crate::read::bind_filter!(
            diesel::sql_query($d.sql(&format!(
                "SELECT {} FROM {{p}}request_hour WHERE {}",
                $columns,
                filter.condition("", "hour_start")
            ))),
            filter
        )
    }};
}
pub(crate) use hours_query;

/// The rollup rows of the hours the filter covers, without their status codes.
pub(crate) fn hours(
    conn: &mut AnyConn,
    d: &Dialect,
    filter: &Filter,
) -> Result<Vec<HourRow>, StoreError> {
    let query = hours_query!(
        d,
        "endpoint_id, hour_start, hits, errors, sum_us, histogram, NULL AS codes",
        filter
    );
    Ok(with_conn!(conn, c => query.load(c))?)
}

/// Which requests a read covers: of one endpoint or of all, started in `[from, to)`
/// (microseconds since the epoch; for reads of the hourly rollups, the hours starting there),
/// of one instance or of all.
///
/// ```
/// use fmd_store::Filter;
/// let f = Filter::endpoint(3).between(0, 3_600_000_000).on_instance(Some(1));
/// assert_eq!((f.endpoint, f.from, f.instance), (Some(3), 0, Some(1)));
/// assert_eq!(Filter::all().endpoint, None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filter {
    /// One endpoint's id, or `None` for all.
    pub endpoint: Option<i64>,
    /// The start of the range, included.
    pub from: i64,
    /// The end of the range, excluded.
    pub to: i64,
    /// One instance's id, or `None` for all.
    pub instance: Option<i64>,
}

impl Filter {
    /// Every request: of all endpoints, at any time, of all instances.
    pub fn all() -> Filter {
        Filter {
            endpoint: None,
            from: i64::MIN,
            to: i64::MAX,
            instance: None,
        }
    }

    /// One endpoint's requests, at any time, of all instances.
    pub fn endpoint(id: i64) -> Filter {
        Filter {
            endpoint: Some(id),
            ..Filter::all()
        }
    }

    /// The same, started in `[from, to)`.
    pub fn between(self, from: i64, to: i64) -> Filter {
        Filter { from, to, ..self }
    }

    /// The same, of one instance (`Some`) or of all.
    pub fn on_instance(self, instance: Option<i64>) -> Filter {
        Filter { instance, ..self }
    }

    /// The filter as an SQL condition on a table with `endpoint_id`, `instance_id` and the
    /// time column `time`, each after `alias` (`""` or `"r."`): four placeholders, which
    /// [`bind_filter!`] binds. An absent endpoint or instance becomes `? = 0` rather than an
    /// `OR`, so the database still uses its (endpoint, time) index for one endpoint.
    pub(crate) fn condition(&self, alias: &str, time: &str) -> String {
        let endpoint = match self.endpoint {
            Some(_) => format!("{alias}endpoint_id = ?"),
            None => "? = 0".to_owned(),
        };
        let instance = match self.instance {
            Some(_) => format!("{alias}instance_id = ?"),
            None => "? = 0".to_owned(),
        };
        format!("{endpoint} AND {alias}{time} >= ? AND {alias}{time} < ? AND {instance}")
    }

    /// The values of [`condition`](Self::condition)'s placeholders, in order.
    pub(crate) fn binds(&self) -> [i64; 4] {
        [
            self.endpoint.unwrap_or(0),
            self.from,
            self.to,
            self.instance.unwrap_or(0),
        ]
    }
}

/// `bind_filter!(query, &filter)`: binds the values of [`Filter::condition`]'s placeholders.
macro_rules! bind_filter {
    ($query:expr, $filter:expr) => {{
        use diesel::sql_types::BigInt;
        let [endpoint, from, to, instance] = $filter.binds();
        $query
            .bind::<BigInt, _>(endpoint)
            .bind::<BigInt, _>(from)
            .bind::<BigInt, _>(to)
            .bind::<BigInt, _>(instance)
    }};
}
pub(crate) use bind_filter;

/// How many requests the filter covers.
pub(crate) fn count_requests(
    conn: &mut AnyConn,
    d: &Dialect,
    filter: &Filter,
) -> Result<i64, StoreError> {
    let query = bind_filter!(
        diesel::sql_query(d.sql(&format!(
            "SELECT COUNT(*) AS n FROM {{p}}request WHERE {}",
            filter.condition("", "time_requested")
        ))),
        filter
    );
    Ok(with_conn!(conn, c => query.get_result::<crate::rows::Count>(c))?.n)
}
