//! Row images: a SQLite row captured before and after a change, and put back on restore.

use anyhow::{bail, Context, Result};
use conanchor_store::rusqlite::types::{Value, ValueRef};
use conanchor_store::rusqlite::{Connection, OptionalExtension};

use super::journal::{check_table, RowImage, SqlValue, UndoOp};

/// Tables whose rowid has a named alias (`id`), so a row image already carries it.
fn has_rowid_alias(table: &str) -> bool {
    matches!(table, "events" | "containers")
}

fn value_of(v: ValueRef<'_>) -> SqlValue {
    match v {
        ValueRef::Null => SqlValue::Null,
        ValueRef::Integer(i) => SqlValue::Integer(i),
        ValueRef::Real(f) => SqlValue::Real(f),
        ValueRef::Text(t) => SqlValue::Text(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Blob(b) => SqlValue::Blob(hex::encode(b)),
    }
}

fn to_value(v: &SqlValue) -> Result<Value> {
    Ok(match v {
        SqlValue::Null => Value::Null,
        SqlValue::Integer(i) => Value::Integer(*i),
        SqlValue::Real(f) => Value::Real(*f),
        SqlValue::Text(t) => Value::Text(t.clone()),
        SqlValue::Blob(h) => Value::Blob(hex::decode(h).context("journal blob is not hex")?),
    })
}

/// The row `rowid` of `table` as it is now.
pub fn snapshot(conn: &Connection, table: &str, rowid: i64) -> Result<RowImage> {
    check_table(table)?;
    let mut stmt = conn.prepare(&format!("SELECT * FROM {table} WHERE rowid = ?1"))?;
    let names: Vec<String> = stmt.column_names().into_iter().map(String::from).collect();
    let values = stmt
        .query_row([rowid], |r| {
            (0..names.len())
                .map(|i| r.get_ref(i).map(value_of))
                .collect::<conanchor_store::rusqlite::Result<Vec<SqlValue>>>()
        })
        .optional()?;
    Ok(RowImage {
        table: table.to_string(),
        rowid,
        values: values.map(|v| names.into_iter().zip(v).collect()),
    })
}

/// Puts `before` back in place of `after`.
pub fn restore_row(conn: &Connection, before: &RowImage, after: &RowImage) -> Result<()> {
    check_table(&before.table)?;
    check_table(&after.table)?;
    conn.execute(
        &format!("DELETE FROM {} WHERE rowid = ?1", after.table),
        [after.rowid],
    )?;
    let Some(values) = &before.values else {
        return Ok(());
    };
    let mut cols: Vec<&str> = Vec::with_capacity(values.len() + 1);
    let mut vals: Vec<Value> = Vec::with_capacity(values.len() + 1);
    if !has_rowid_alias(&before.table) {
        cols.push("rowid");
        vals.push(Value::Integer(before.rowid));
    }
    for (name, v) in values {
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            bail!("the attack journal names a bad column {name:?}");
        }
        cols.push(name);
        vals.push(to_value(v)?);
    }
    let marks: Vec<String> = (1..=cols.len()).map(|i| format!("?{i}")).collect();
    conn.execute(
        &format!(
            "INSERT OR REPLACE INTO {} ({}) VALUES ({})",
            before.table,
            cols.join(", "),
            marks.join(", ")
        ),
        conanchor_store::rusqlite::params_from_iter(vals),
    )?;
    Ok(())
}

/// Runs `change` on one row and records its before/after images.
pub fn record(
    conn: &Connection,
    ops: &mut Vec<UndoOp>,
    table: &str,
    rowid: i64,
    change: impl FnOnce(&Connection) -> Result<()>,
) -> Result<()> {
    let before = snapshot(conn, table, rowid)?;
    change(conn)?;
    let after = snapshot(conn, table, rowid)?;
    ops.push(UndoOp::Row { before, after });
    Ok(())
}
