//! Row images: a SQLite row captured before and after a change, and put back on restore.

use anyhow::{bail, Context, Result};
use conanchor_store::rusqlite::types::{Value, ValueRef};
use conanchor_store::rusqlite::{Connection, OptionalExtension};

use conanchor_store::encoding::{encode_event, EventFields};

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

/// An `events` row image journaled under schema v1 (one column per event field) as the
/// schema v2 row it stands for (canonical bytes), so an attack journaled before an upgrade
/// can still be undone. Other images are returned as they are.
fn upgraded(
    conn: &Connection,
    table: &str,
    values: &[(String, SqlValue)],
) -> Result<Vec<(String, SqlValue)>> {
    if table != "events" || !values.iter().any(|(n, _)| n == "event_type") {
        return Ok(values.to_vec());
    }
    let get = |name: &str| values.iter().find(|(n, _)| n == name).map(|(_, v)| v);
    let int = |name: &str| -> Result<i64> {
        match get(name) {
            Some(SqlValue::Integer(v)) => Ok(*v),
            other => bail!("the journaled v1 events row has {name} = {other:?}, not an integer"),
        }
    };
    let text = |name: &str| -> Result<&str> {
        match get(name) {
            Some(SqlValue::Text(t)) => Ok(t),
            other => bail!("the journaled v1 events row has {name} = {other:?}, not text"),
        }
    };
    let id32 = |name: &str| -> Result<u32> {
        let v = int(name)?;
        u32::try_from(v).with_context(|| format!("journaled {name} {v} does not fit 32 bits"))
    };
    let container = int("container")?;
    let cid: String = conn
        .query_row(
            "SELECT container_instance_id FROM containers WHERE id = ?1",
            [container],
            |r| r.get(0),
        )
        .with_context(|| {
            format!(
                "the journaled events row names container {container}, which is not in the store"
            )
        })?;
    let fields = EventFields {
        global_seq: int("global_seq")? as u64,
        container_seq: int("container_seq")? as u64,
        timestamp_ns: int("timestamp_ns")? as u64,
        event_type: text("event_type")?,
        pid: id32("pid")?,
        tgid: id32("tgid")?,
        uid: id32("uid")?,
        gid: id32("gid")?,
        comm: text("comm")?,
        path: text("path")?,
        extra: text("extra")?,
        flags: int("flags")? as u64,
        retval: int("retval")?,
        cgroup_id: text("cgroup_id")?,
        container_id: text("container_id")?,
        container_instance_id: &cid,
        risk: text("risk")?,
        policy: text("policy")?,
    };
    let mut canonical = Vec::new();
    encode_event(&fields, &mut canonical);
    Ok(vec![
        ("id".into(), SqlValue::Integer(int("id")?)),
        ("container".into(), SqlValue::Integer(container)),
        (
            "container_seq".into(),
            SqlValue::Integer(int("container_seq")?),
        ),
        ("canonical".into(), SqlValue::Blob(hex::encode(canonical))),
    ])
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
    let values = &upgraded(conn, &before.table, values)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use conanchor_store::encoding::decode_event;
    use conanchor_store::Store;

    #[test]
    fn a_v1_events_image_is_restored_as_canonical_bytes() {
        let tmp = tempfile::tempdir().unwrap();
        let mut store = Store::create(tmp.path()).unwrap();
        let conn = store.connection();
        conn.execute(
            "INSERT INTO containers (id, container_instance_id, container_id, cgroup_id, \
             next_container_seq, next_batch_id, last_batch_hash, first_seen_ns, last_seen_ns) \
             VALUES (3, 'pod-a', 'abc', '77', 2, 1, '', 0, 0)",
            [],
        )
        .unwrap();
        let t = |s: &str| SqlValue::Text(s.into());
        let i = SqlValue::Integer;
        let v1: Vec<(String, SqlValue)> = [
            ("id", i(9)),
            ("container", i(3)),
            ("container_seq", i(1)),
            ("global_seq", i(5)),
            ("timestamp_ns", i(1_000)),
            ("event_type", t("exec")),
            ("pid", i(10)),
            ("tgid", i(10)),
            ("uid", i(0)),
            ("gid", i(0)),
            ("comm", t("wget")),
            ("path", t("/usr/bin/wget")),
            ("extra", t("")),
            ("flags", i(0)),
            ("retval", i(-2)),
            ("cgroup_id", t("77")),
            ("container_id", t("abc")),
            ("risk", t("high")),
            ("policy", t("wget-exec")),
        ]
        .into_iter()
        .map(|(n, v)| (n.to_string(), v))
        .collect();
        let before = RowImage {
            table: "events".into(),
            rowid: 9,
            values: Some(v1),
        };
        let after = RowImage {
            table: "events".into(),
            rowid: 9,
            values: None,
        };
        restore_row(conn, &before, &after).unwrap();
        let (seq, bytes): (i64, Vec<u8>) = conn
            .query_row(
                "SELECT container_seq, canonical FROM events WHERE id = 9",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(seq, 1);
        let e = decode_event(&bytes).unwrap();
        assert_eq!(
            (
                e.container_instance_id.as_str(),
                e.comm.as_str(),
                e.global_seq,
                e.retval
            ),
            ("pod-a", "wget", 5, -2)
        );
    }
}
