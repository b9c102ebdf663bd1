//! Dashboard users and settings.

use diesel::sql_types::{BigInt, Integer, Text};
use diesel::{OptionalExtension, QueryableByName, RunQueryDsl};

use crate::db::with_conn;
use crate::rows::Count;
use crate::store::Store;
use crate::StoreError;

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
struct Value {
    #[diesel(sql_type = Text)]
    value: String,
}

impl Store {
    /// A dashboard user by name.
    pub fn user(&self, username: &str) -> Result<Option<UserRow>, StoreError> {
        let query = diesel::sql_query(self.sql(
            "SELECT id, username, password_hash, is_admin FROM {p}dashboard_user WHERE username = ?",
        ))
        .bind::<Text, _>(username);
        Ok(with_conn!(&mut self.conn()?, c => query.get_result(c).optional())?)
    }

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

    /// Creates the user, or replaces its password hash and role.
    pub fn upsert_user(
        &self,
        username: &str,
        password_hash: &str,
        is_admin: bool,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let insert = diesel::sql_query(self.sql(
            "{insert_ignore} INTO {p}dashboard_user (username, password_hash, is_admin) VALUES (?, ?, ?){on_conflict_ignore}",
        ))
        .bind::<Text, _>(username)
        .bind::<Text, _>(password_hash)
        .bind::<Integer, _>(i32::from(is_admin));
        with_conn!(&mut conn, c => insert.execute(c))?;
        let update = diesel::sql_query(self.sql(
            "UPDATE {p}dashboard_user SET password_hash = ?, is_admin = ? WHERE username = ?",
        ))
        .bind::<Text, _>(password_hash)
        .bind::<Integer, _>(i32::from(is_admin))
        .bind::<Text, _>(username);
        with_conn!(&mut conn, c => update.execute(c))?;
        Ok(())
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

    /// How many administrators exist.
    pub fn admin_count(&self) -> Result<i64, StoreError> {
        let query = diesel::sql_query(
            self.sql("SELECT COUNT(*) AS n FROM {p}dashboard_user WHERE is_admin = 1"),
        );
        Ok(with_conn!(&mut self.conn()?, c => query.get_result::<Count>(c))?.n)
    }

    /// The stored value of a setting, storing `value` first when there is none. Concurrent
    /// callers, in this process or others, all get the value that was stored first.
    pub fn setting_or_insert(&self, name: &str, value: &str) -> Result<String, StoreError> {
        let mut conn = self.conn()?;
        let insert = diesel::sql_query(self.sql(
            "{insert_ignore} INTO {p}setting (name, value) VALUES (?, ?){on_conflict_ignore}",
        ))
        .bind::<Text, _>(name)
        .bind::<Text, _>(value);
        with_conn!(&mut conn, c => insert.execute(c))?;
        let select = diesel::sql_query(self.sql("SELECT value FROM {p}setting WHERE name = ?"))
            .bind::<Text, _>(name);
        Ok(with_conn!(&mut conn, c => select.get_result::<Value>(c))?.value)
    }
}
