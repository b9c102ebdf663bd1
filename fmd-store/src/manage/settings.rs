//! What an admin changes on the dashboard besides users: endpoint levels, custom graphs, and
//! the database's size shown beside them.

use diesel::sql_types::{BigInt, Double, Integer, Text};
use diesel::{OptionalExtension, RunQueryDsl};

use crate::db::{with_conn, Backend};
use crate::rows::{Count, Id};
use crate::store::Store;
use crate::StoreError;

impl Store {
    /// Stores an endpoint's level; false when there is no such endpoint. Every instance picks
    /// it up within its writer's poll interval.
    pub fn set_level(&self, id: i64, level: u8) -> Result<bool, StoreError> {
        let query =
            diesel::sql_query(self.sql("UPDATE {p}endpoint SET monitor_level = ? WHERE id = ?"))
                .bind::<Integer, _>(i32::from(level))
                .bind::<BigInt, _>(id);
        // Matched rows on every backend: diesel connects to MySQL with CLIENT_FOUND_ROWS.
        Ok(with_conn!(&mut self.conn()?, c => query.execute(c))? > 0)
    }

    /// The graph's id, storing it first when it is new (safe when instances race).
    pub fn ensure_graph(&self, title: &str, now: i64) -> Result<i64, StoreError> {
        let mut conn = self.conn()?;
        let insert = diesel::sql_query(self.sql(
            "{insert_ignore} INTO {p}custom_graph (title, time_added) VALUES (?, ?){on_conflict_ignore}",
        ))
        .bind::<Text, _>(title)
        .bind::<BigInt, _>(now);
        with_conn!(&mut conn, c => insert.execute(c))?;
        let select = diesel::sql_query(self.sql("SELECT id FROM {p}custom_graph WHERE title = ?"))
            .bind::<Text, _>(title);
        Ok(with_conn!(&mut conn, c => select.get_result::<Id>(c))?.id)
    }

    /// Stores one value of a graph.
    pub fn add_graph_value(&self, graph: i64, time: i64, value: f64) -> Result<(), StoreError> {
        let insert = diesel::sql_query(self.sql(
            "INSERT INTO {p}custom_graph_data (graph_id, time_recorded, value) VALUES (?, ?, ?)",
        ))
        .bind::<BigInt, _>(graph)
        .bind::<BigInt, _>(time)
        .bind::<Double, _>(value);
        with_conn!(&mut self.conn()?, c => insert.execute(c))?;
        Ok(())
    }

    /// The space fmd's tables take, in bytes (for SQLite, the whole file); `None` when the
    /// database does not say.
    pub fn database_size(&self) -> Result<Option<i64>, StoreError> {
        let prefix = self.prefix().to_owned();
        let sql = match self.backend() {
            Backend::Sqlite => {
                "SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()"
            }
            Backend::Postgres => {
                "SELECT CAST(COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS BIGINT) AS n \
                 FROM pg_class c JOIN pg_namespace ns ON ns.oid = c.relnamespace \
                 WHERE c.relkind = 'r' AND ns.nspname = current_schema() \
                 AND LEFT(c.relname, LENGTH(?)) = ?"
            }
            Backend::Mysql => {
                "SELECT CAST(COALESCE(SUM(data_length + index_length), 0) AS SIGNED) AS n \
                 FROM information_schema.tables WHERE table_schema = DATABASE() \
                 AND LEFT(table_name, CHAR_LENGTH(?)) = ?"
            }
        };
        let mut conn = self.conn()?;
        let n = if self.backend() == Backend::Sqlite {
            let q = diesel::sql_query(self.sql(sql));
            with_conn!(&mut conn, c => q.get_result::<Count>(c).optional())?
        } else {
            let q = diesel::sql_query(self.sql(sql))
                .bind::<Text, _>(&prefix)
                .bind::<Text, _>(&prefix);
            with_conn!(&mut conn, c => q.get_result::<Count>(c).optional())?
        };
        Ok(n.map(|c| c.n))
    }
}
