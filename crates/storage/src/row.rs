//! The columns a row mapper reads, from either kind of row: sqlx's (`AnyRow`) or one read
//! directly from SQLite (see [`crate::direct`]), so each mapping is written once.

use sqlx::Row as _;
use sqlx::any::AnyRow;

use crate::Result;

pub(crate) trait Row {
    fn int(&self, column: &str) -> Result<i64>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>>;
    fn text(&self, column: &str) -> Result<String>;
    fn opt_text(&self, column: &str) -> Result<Option<String>>;
}

/// The columns of `row` named `prefix` + name (a table's columns beside another's with
/// the same names, in a join: `r.id AS r_id`).
pub(crate) struct Prefixed<'a, R: ?Sized>(pub &'a R, pub &'static str);

impl<R: Row + ?Sized> Row for Prefixed<'_, R> {
    fn int(&self, column: &str) -> Result<i64> {
        self.0.int(&format!("{}{column}", self.1))
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        self.0.opt_int(&format!("{}{column}", self.1))
    }
    fn text(&self, column: &str) -> Result<String> {
        self.0.text(&format!("{}{column}", self.1))
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        self.0.opt_text(&format!("{}{column}", self.1))
    }
}

impl Row for AnyRow {
    fn int(&self, column: &str) -> Result<i64> {
        Ok(self.try_get(column)?)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        Ok(self.try_get(column)?)
    }
    fn text(&self, column: &str) -> Result<String> {
        Ok(self.try_get(column)?)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        Ok(self.try_get(column)?)
    }
}
