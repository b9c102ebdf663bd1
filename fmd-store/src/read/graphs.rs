//! Custom graphs and their values, as the dashboard draws them.

use diesel::sql_types::{BigInt, Double, Text};
use diesel::{QueryableByName, RunQueryDsl};
use serde::Serialize;

use crate::db::with_conn;
use crate::store::Store;
use crate::StoreError;

/// A custom graph as stored.
#[derive(Debug, Clone, QueryableByName, Serialize)]
pub struct GraphRow {
    /// Database id.
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    /// Its title, unique.
    #[diesel(sql_type = Text)]
    pub title: String,
    /// When it was first registered, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub time_added: i64,
}

#[derive(QueryableByName)]
struct Point {
    #[diesel(sql_type = BigInt)]
    time_recorded: i64,
    #[diesel(sql_type = Double)]
    value: f64,
}

impl Store {
    /// Every custom graph, by title.
    pub fn graphs(&self) -> Result<Vec<GraphRow>, StoreError> {
        let query = diesel::sql_query(
            self.sql("SELECT id, title, time_added FROM {p}custom_graph ORDER BY title"),
        );
        Ok(with_conn!(&mut self.conn()?, c => query.load(c))?)
    }

    /// A graph's values recorded in `[from, to)`, oldest first, as (time, value).
    pub fn graph_values(
        &self,
        graph: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, f64)>, StoreError> {
        let query = diesel::sql_query(self.sql(
            "SELECT time_recorded, value FROM {p}custom_graph_data \
             WHERE graph_id = ? AND time_recorded >= ? AND time_recorded < ? ORDER BY time_recorded, id",
        ))
        .bind::<BigInt, _>(graph)
        .bind::<BigInt, _>(from)
        .bind::<BigInt, _>(to);
        let rows: Vec<Point> = with_conn!(&mut self.conn()?, c => query.load(c))?;
        Ok(rows
            .into_iter()
            .map(|p| (p.time_recorded, p.value))
            .collect())
    }
}
