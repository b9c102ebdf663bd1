//! What the settings pages read and change: dashboard users, and the database's size.

use diesel::sql_types::{BigInt, Integer, Text};
use diesel::{OptionalExtension, RunQueryDsl};

use crate::db::{with_conn, Backend, Store};
use crate::queries::{Count, UserRow};
use crate::StoreError;

impl Store {
    /// Every dashboard user stored in the database, by name.
    pub fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        let query = diesel::sql_query(self.sql(
            "SELECT id, username, password_hash, is_admin FROM {p}dashboard_user ORDER BY username",
        ));
        Ok(with_conn!(&mut self.conn()?, c => query.load(c))?)
    }

    /// One user by id.
    pub fn user_by_id(&self, id: i64) -> Result<Option<UserRow>, StoreError> {
        let query = diesel::sql_query(self.sql(
            "SELECT id, username, password_hash, is_admin FROM {p}dashboard_user WHERE id = ?",
        ))
        .bind::<BigInt, _>(id);
        Ok(with_conn!(&mut self.conn()?, c => query.get_result(c).optional())?)
    }

    /// Adds a user; false when the name is taken (also by a user added at the same moment).
    pub fn add_user(
        &self,
        username: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> Result<bool, StoreError> {
        let insert = diesel::sql_query(self.sql(
            "{insert_ignore} INTO {p}dashboard_user (username, password_hash, is_admin) VALUES (?, ?, ?){on_conflict_ignore}",
        ))
        .bind::<Text, _>(username)
        .bind::<Text, _>(password_hash)
        .bind::<Integer, _>(i32::from(is_admin));
        Ok(with_conn!(&mut self.conn()?, c => insert.execute(c))? == 1)
    }

    /// Replaces a user's password hash and ends the user's sessions but `keep` (the session of
    /// a user changing its own password); false when there is no such user.
    pub fn set_password(
        &self,
        id: i64,
        password_hash: &str,
        keep: Option<&str>,
    ) -> Result<bool, StoreError> {
        let Some(user) = self.user_by_id(id)? else {
            return Ok(false);
        };
        let update = diesel::sql_query(
            self.sql("UPDATE {p}dashboard_user SET password_hash = ? WHERE id = ?"),
        )
        .bind::<Text, _>(password_hash)
        .bind::<BigInt, _>(id);
        let changed = with_conn!(&mut self.conn()?, c => update.execute(c))? > 0;
        self.delete_sessions_of(&user.username, keep)?;
        Ok(changed)
    }

    /// Deletes a user with its sessions, unless it is the last administrator; `Ok(None)` when
    /// there is no such user, `Ok(Some(false))` when it is the last administrator.
    pub fn delete_user(&self, id: i64) -> Result<Option<bool>, StoreError> {
        let Some(user) = self.user_by_id(id)? else {
            return Ok(None);
        };
        let mut conn = self.conn()?;
        // One statement, so two administrators deleting each other at once cannot both win.
        let delete = diesel::sql_query(self.sql(
            "DELETE FROM {p}dashboard_user WHERE id = ? AND (is_admin = 0 OR \
             (SELECT n FROM (SELECT COUNT(*) AS n FROM {p}dashboard_user WHERE is_admin = 1) admins) > 1)",
        ))
        .bind::<BigInt, _>(id);
        if with_conn!(&mut conn, c => delete.execute(c))? > 0 {
            self.delete_sessions_of(&user.username, None)?;
            return Ok(Some(true));
        }
        Ok(self.user_by_id(id)?.map(|_| false))
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
