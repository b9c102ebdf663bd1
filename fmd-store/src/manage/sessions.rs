//! Dashboard sessions: created at login, looked up by primary key on every dashboard request,
//! and ended by logout, expiry, the deletion of their user or a change of its password.

use diesel::sql_types::{BigInt, Integer, Text};
use diesel::{OptionalExtension, QueryableByName, RunQueryDsl};

use crate::db::with_conn;
use crate::store::Store;
use crate::StoreError;

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq, QueryableByName)]
pub struct SessionRow {
    /// SHA-256 (base64url) of the cookie's token.
    #[diesel(sql_type = Text)]
    pub id: String,
    /// The user it belongs to.
    #[diesel(sql_type = Text)]
    pub username: String,
    /// Administrator (else guest): the role it was opened with.
    #[diesel(sql_type = Integer)]
    pub is_admin: i32,
    /// The token state-changing calls must echo.
    #[diesel(sql_type = Text)]
    pub csrf: String,
    /// When it was opened, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub created: i64,
    /// When it ends, microseconds since the epoch.
    #[diesel(sql_type = BigInt)]
    pub expires: i64,
}

#[derive(QueryableByName)]
struct UserSessions {
    #[diesel(sql_type = Text)]
    username: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

impl Store {
    /// Stores a new session.
    pub fn add_session(&self, session: &SessionRow) -> Result<(), StoreError> {
        let insert = diesel::sql_query(self.sql(
            "INSERT INTO {p}dashboard_session (id, username, is_admin, csrf, created, expires) \
             VALUES (?, ?, ?, ?, ?, ?)",
        ))
        .bind::<Text, _>(&session.id)
        .bind::<Text, _>(&session.username)
        .bind::<Integer, _>(session.is_admin)
        .bind::<Text, _>(&session.csrf)
        .bind::<BigInt, _>(session.created)
        .bind::<BigInt, _>(session.expires);
        with_conn!(&mut self.conn()?, c => insert.execute(c))?;
        Ok(())
    }

    /// The session with `id` that has not expired at `now` (microseconds).
    pub fn session(&self, id: &str, now: i64) -> Result<Option<SessionRow>, StoreError> {
        let query = diesel::sql_query(self.sql(
            "SELECT id, username, is_admin, csrf, created, expires FROM {p}dashboard_session \
             WHERE id = ? AND expires > ?",
        ))
        .bind::<Text, _>(id)
        .bind::<BigInt, _>(now);
        Ok(with_conn!(&mut self.conn()?, c => query.get_result(c).optional())?)
    }

    /// Ends one session; false when there was none.
    pub fn delete_session(&self, id: &str) -> Result<bool, StoreError> {
        let delete = diesel::sql_query(self.sql("DELETE FROM {p}dashboard_session WHERE id = ?"))
            .bind::<Text, _>(id);
        Ok(with_conn!(&mut self.conn()?, c => delete.execute(c))? > 0)
    }

    /// Ends every session of `username` but `keep` (the one asking, when it changes its own
    /// password); returns how many ended.
    pub fn delete_sessions_of(
        &self,
        username: &str,
        keep: Option<&str>,
    ) -> Result<usize, StoreError> {
        let delete = diesel::sql_query(
            self.sql("DELETE FROM {p}dashboard_session WHERE username = ? AND id <> ?"),
        )
        .bind::<Text, _>(username)
        .bind::<Text, _>(keep.unwrap_or(""));
        Ok(with_conn!(&mut self.conn()?, c => delete.execute(c))?)
    }

    /// Forgets the sessions that expired before `now` (microseconds); returns how many.
    pub fn delete_expired_sessions(&self, now: i64) -> Result<usize, StoreError> {
        let delete =
            diesel::sql_query(self.sql("DELETE FROM {p}dashboard_session WHERE expires <= ?"))
                .bind::<BigInt, _>(now);
        Ok(with_conn!(&mut self.conn()?, c => delete.execute(c))?)
    }

    /// How many unexpired sessions each user has at `now`, for users with any.
    pub fn session_counts(&self, now: i64) -> Result<Vec<(String, i64)>, StoreError> {
        let query = diesel::sql_query(self.sql(
            "SELECT username, COUNT(*) AS n FROM {p}dashboard_session WHERE expires > ? \
             GROUP BY username",
        ))
        .bind::<BigInt, _>(now);
        let rows: Vec<UserSessions> = with_conn!(&mut self.conn()?, c => query.load(c))?;
        Ok(rows.into_iter().map(|r| (r.username, r.n)).collect())
    }
}
