//! The rows of the request table as the writer inserts them: multi-row statements of fixed
//! sizes, cached by type, with addresses formatted in place.

use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use diesel::{QueryResult, RunQueryDsl};

/// Rows per INSERT statement, largest first: a batch is written in chunks of these sizes only,
/// so three statements cover every batch and stay in the prepared-statement cache (a statement
/// per batch size would be prepared anew for most batches). 100 rows of 7 parameters is well
/// under every backend's limit on bound parameters.
pub(crate) const CHUNK_SIZES: [usize; 3] = [100, 10, 1];

/// Splits `rows` into chunks of the sizes in [`CHUNK_SIZES`], largest first.
pub(crate) fn chunks<T>(mut rows: &[T]) -> impl Iterator<Item = &[T]> {
    std::iter::from_fn(move || {
        let size = CHUNK_SIZES.into_iter().find(|s| *s <= rows.len())?;
        let (chunk, rest) = rows.split_at(size);
        rows = rest;
        Some(chunk)
    })
}

/// One request row, borrowing what it can from the record.
pub(crate) struct Row<'a> {
    pub(crate) endpoint_id: i64,
    pub(crate) duration_us: i64,
    pub(crate) time_requested: i64,
    pub(crate) group_by: Option<&'a str>,
    pub(crate) ip: Option<&'a str>,
    pub(crate) status_code: i32,
}

/// A multi-row INSERT of `N` rows into the request table; `push_bind_param` writes each
/// backend's placeholders.
///
/// `sql_query` statements are never cached by diesel, and a statement cached by its SQL text
/// has that text rebuilt on every execution to look it up. This one has a static query id, so
/// diesel caches it by type: its SQL depends only on `N` and the table prefix, and the prefix is
/// fixed for the connection the sink owns.
pub(crate) struct InsertRequests<'a, const N: usize> {
    pub(crate) prefix: &'a str,
    /// The columns every row of this sink shares (version, instance), as SQL literals: two
    /// binds fewer per row. The SQL stays fixed for the connection, as the cache needs.
    pub(crate) shared: &'a str,
    pub(crate) rows: &'a [Row<'a>],
}

/// The static query id of [`InsertRequests`].
pub(crate) struct InsertRequestsId<const N: usize>;

impl<const N: usize> QueryId for InsertRequests<'_, N> {
    type QueryId = InsertRequestsId<N>;
    const HAS_STATIC_QUERY_ID: bool = true;
}

/// The same fragment for each backend: written per backend rather than generically because the
/// bounds a generic version needs (one `ToSql` per column type) say less than this does.
macro_rules! insert_requests_for {
    ($backend:ty, $conn:ty, $insert:literal) => {
        impl<const N: usize> QueryFragment<$backend> for InsertRequests<'_, N> {
            fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, $backend>) -> QueryResult<()> {
                debug_assert_eq!(
                    self.rows.len(),
                    N,
                    "the cached SQL has room for exactly N rows"
                );
                out.push_sql($insert);
                out.push_sql(self.prefix);
                out.push_sql(
                    "request (endpoint_id, duration_us, time_requested, group_by, ip, status_code, version_requested, instance_id) VALUES ",
                );
                for (i, row) in self.rows.iter().enumerate() {
                    out.push_sql(if i == 0 { "(" } else { ", (" });
                    out.push_bind_param::<BigInt, _>(&row.endpoint_id)?;
                    out.push_sql(", ");
                    out.push_bind_param::<BigInt, _>(&row.duration_us)?;
                    out.push_sql(", ");
                    out.push_bind_param::<BigInt, _>(&row.time_requested)?;
                    out.push_sql(", ");
                    out.push_bind_param::<Nullable<Text>, _>(&row.group_by)?;
                    out.push_sql(", ");
                    out.push_bind_param::<Nullable<Text>, _>(&row.ip)?;
                    out.push_sql(", ");
                    out.push_bind_param::<Integer, _>(&row.status_code)?;
                    out.push_sql(", ");
                    out.push_sql(self.shared);
                    out.push_sql(")");
                }
                Ok(())
            }
        }

        impl<const N: usize> RunQueryDsl<$conn> for InsertRequests<'_, N> {}
    };
}

// On SQLite a failing row rolls back the batch's transaction, which the writer retries whole
// anyway: the statement then needs no statement journal (about 160 instructions a row).
insert_requests_for!(
    diesel::sqlite::Sqlite,
    diesel::SqliteConnection,
    "INSERT OR ROLLBACK INTO "
);
#[cfg(feature = "postgres")]
insert_requests_for!(diesel::pg::Pg, diesel::PgConnection, "INSERT INTO ");
#[cfg(feature = "mysql")]
insert_requests_for!(
    diesel::mysql::Mysql,
    diesel::MysqlConnection,
    "INSERT INTO "
);

/// An address as text, formatted in place: the writer formats one per row, and a `String` each
/// would be an allocation per row.
pub(crate) struct IpText {
    buf: [u8; 48],
    len: usize,
}

impl IpText {
    pub(crate) fn new(ip: std::net::IpAddr) -> IpText {
        let mut text = IpText {
            buf: [0; 48],
            len: 0,
        };
        match ip {
            // Most rows; `Display` for an IPv4 address was a tenth of the writer's time.
            std::net::IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        text.push(b'.');
                    }
                    if octet >= 100 {
                        text.push(b'0' + octet / 100);
                    }
                    if octet >= 10 {
                        text.push(b'0' + octet / 10 % 10);
                    }
                    text.push(b'0' + octet % 10);
                }
            }
            // The longest address, an IPv4-mapped IPv6 one, has 45 characters.
            std::net::IpAddr::V6(v6) => {
                use std::fmt::Write;
                let _ = write!(text, "{v6}");
            }
        }
        text
    }

    fn push(&mut self, byte: u8) {
        self.buf[self.len] = byte;
        self.len += 1;
    }

    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("")
    }
}

impl std::fmt::Write for IpText {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_format_in_place() {
        for ip in [
            "127.0.0.1",
            "0.0.0.0",
            "10.200.9.255",
            "::1",
            "::ffff:255.255.255.255",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
        ] {
            let parsed: std::net::IpAddr = ip.parse().unwrap();
            assert_eq!(IpText::new(parsed).as_str(), parsed.to_string());
        }
    }

    #[test]
    fn batches_split_into_three_sizes() {
        let rows: Vec<u32> = (0..234).collect();
        let sizes: Vec<usize> = chunks(&rows).map(|c| c.len()).collect();
        assert_eq!(sizes, [100, 100, 10, 10, 10, 1, 1, 1, 1]);
        let flat: Vec<u32> = chunks(&rows).flatten().copied().collect();
        assert_eq!(flat, rows);
        assert_eq!(chunks::<u32>(&[]).count(), 0);
    }
}
