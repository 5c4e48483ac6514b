//! Statements with positional parameters (`$1`, `$2`, …) on one connection, either sqlx's
//! or SQLite's own (`rusqlite`, see [`crate::direct`]), so that the group commit is written
//! once and runs on both: on sqlx's connections for PostgreSQL, on a writer thread of its
//! own for SQLite.

use sqlx::any::AnyRow;

use crate::Result;
use crate::mash::{Bind, bind_all};
use crate::row::Row;

pub(crate) trait Exec {
    type Row: Row;
    /// What follows `UPDATE` or `INSERT` in a statement that writes many rows:
    /// `OR ROLLBACK` on the SQLite writer's connection, so that a failing statement ends
    /// its transaction (the group commit, thrown away whole on any error anyway) and
    /// SQLite keeps no statement journal for it: a copy of every page the statement
    /// changes, kept to undo just that statement, which was a fifth of the writer's
    /// time. Nothing elsewhere (sqlx's transactions roll back themselves).
    const MANY_ROWS: &'static str;
    /// Every row `sql` returns.
    async fn rows(&mut self, sql: &str, binds: &[Bind]) -> Result<Vec<Self::Row>>;
    /// Runs `sql`; the number of rows it changed.
    async fn run(&mut self, sql: &str, binds: &[Bind]) -> Result<u64>;
}

impl Exec for sqlx::AnyConnection {
    type Row = AnyRow;
    const MANY_ROWS: &'static str = "";

    async fn rows(&mut self, sql: &str, binds: &[Bind]) -> Result<Vec<AnyRow>> {
        Ok(bind_all(sqlx::query(sql), binds).fetch_all(self).await?)
    }

    async fn run(&mut self, sql: &str, binds: &[Bind]) -> Result<u64> {
        Ok(bind_all(sqlx::query(sql), binds)
            .execute(self)
            .await?
            .rows_affected())
    }
}

/// A row read on a SQLite connection of this crate's own, with its column names.
pub(crate) struct OwnedRow {
    names: std::rc::Rc<[String]>,
    values: Vec<rusqlite::types::Value>,
}

impl OwnedRow {
    fn value(&self, column: &str) -> Result<&rusqlite::types::Value> {
        self.names
            .iter()
            .position(|n| n == column)
            .map(|i| &self.values[i])
            .ok_or_else(|| crate::StorageError::Corrupt(format!("no column {column}")))
    }
}

fn wrong_type(column: &str) -> crate::StorageError {
    crate::StorageError::Corrupt(format!("column {column} has an unexpected type"))
}

impl Row for OwnedRow {
    fn int(&self, column: &str) -> Result<i64> {
        self.opt_int(column)?.ok_or_else(|| wrong_type(column))
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        use rusqlite::types::Value;
        match self.value(column)? {
            Value::Integer(i) => Ok(Some(*i)),
            Value::Null => Ok(None),
            _ => Err(wrong_type(column)),
        }
    }
    fn text(&self, column: &str) -> Result<String> {
        self.opt_text(column)?.ok_or_else(|| wrong_type(column))
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        use rusqlite::types::Value;
        match self.value(column)? {
            Value::Text(s) => Ok(Some(s.clone())),
            Value::Null => Ok(None),
            _ => Err(wrong_type(column)),
        }
    }
}

impl rusqlite::ToSql for Bind {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef};
        Ok(match self {
            Bind::Int(i) => ToSqlOutput::Borrowed(ValueRef::Integer(*i)),
            Bind::NullInt => ToSqlOutput::Borrowed(ValueRef::Null),
            Bind::Text(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
        })
    }
}

/// `sql` with its `$N` parameters written `?N`: SQLite numbers `$N` by first appearance,
/// `?N` by N, which is what the binds are in.
pub(crate) fn numbered(sql: &str) -> std::borrow::Cow<'_, str> {
    if !sql.contains('$') {
        return sql.into();
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out.into()
}

impl Exec for rusqlite::Connection {
    type Row = OwnedRow;
    const MANY_ROWS: &'static str = " OR ROLLBACK";

    async fn rows(&mut self, sql: &str, binds: &[Bind]) -> Result<Vec<OwnedRow>> {
        let mut statement = self.prepare_cached(&numbered(sql))?;
        let names: std::rc::Rc<[String]> = statement
            .column_names()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let width = names.len();
        let mut rows = statement.query(rusqlite::params_from_iter(binds))?;
        let mut out = Vec::new();
        while let Some(row) = rows.next()? {
            let values = (0..width)
                .map(|i| row.get::<_, rusqlite::types::Value>(i))
                .collect::<rusqlite::Result<_>>()?;
            out.push(OwnedRow {
                names: names.clone(),
                values,
            });
        }
        Ok(out)
    }

    async fn run(&mut self, sql: &str, binds: &[Bind]) -> Result<u64> {
        let mut statement = self.prepare_cached(&numbered(sql))?;
        Ok(statement.execute(rusqlite::params_from_iter(binds))? as u64)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn dollar_parameters_are_numbered() {
        assert_eq!(super::numbered("SELECT 1"), "SELECT 1");
        assert_eq!(
            super::numbered("UPDATE t SET a = $12 WHERE b = $1 AND c = '$x'"),
            "UPDATE t SET a = ?12 WHERE b = ?1 AND c = '$x'"
        );
    }
}
