//! The attack journal: what each attack changed (before/after) and how to undo it.
//!
//! SQLite targets keep it in the `attack_journal` table of `conanchor.db`; exported
//! directories in `.conanchor/attack_journal.jsonl` inside the export. The verifier never
//! reads either: only `restore` and the diff view (to show original content) do.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use conanchor_store::rusqlite::{params, Connection, OptionalExtension};
use conanchor_store::{Batch, BatchHeader, Event, LogTagRef, Store};
use serde::{Deserialize, Serialize};

use super::AttackTarget;

/// Where the journal of an exported directory lives, relative to its root.
pub const EXPORT_JOURNAL: &str = ".conanchor/attack_journal.jsonl";

/// One SQLite value, as stored in a row image.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqlValue {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    /// Hex-encoded bytes.
    Blob(String),
}

/// One table row at one moment; `values` is `None` when the row did not exist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RowImage {
    pub table: String,
    pub rowid: i64,
    pub values: Option<Vec<(String, SqlValue)>>,
}

/// One reversible change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum UndoOp {
    /// A SQLite row changed from `before` to `after`.
    Row { before: RowImage, after: RowImage },
    /// Lines `index..index + removed.len()` of a text file were replaced by `inserted`.
    /// `path` is relative to the data dir / export root unless absolute.
    Lines {
        path: PathBuf,
        index: usize,
        removed: Vec<String>,
        inserted: Vec<String>,
    },
    /// A whole file changed (`None` = absent).
    File {
        path: PathBuf,
        before: Option<String>,
        after: Option<String>,
    },
}

/// Content before and after an attack, for people (the diff view) rather than for undo.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Content {
    #[serde(default)]
    pub events: Vec<Event>,
    #[serde(default)]
    pub batches: Vec<Batch>,
    /// Anchor records as the ledger held them (tamper-ledger).
    #[serde(default)]
    pub anchors: Vec<BatchHeader>,
}

/// The `undo` column: the ops to reverse plus readable before/after content.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Undo {
    pub version: u32,
    pub container_instance_id: String,
    pub batch_id: u64,
    #[serde(default)]
    pub container_seqs: Vec<u64>,
    pub ops: Vec<UndoOp>,
    #[serde(default)]
    pub before: Content,
    #[serde(default)]
    pub after: Content,
}

/// One journaled attack.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub id: i64,
    pub at_ns: u64,
    pub attack: String,
    pub target: String,
    pub description: String,
    pub undo: Undo,
    pub restored: bool,
}

// ---- SQLite journal -------------------------------------------------------------------

pub(crate) fn insert_sqlite(conn: &Connection, entry: &JournalEntry) -> Result<i64> {
    conn.execute(
        "INSERT INTO attack_journal (at_ns, attack, target, description, undo, restored) \
         VALUES (?1, ?2, ?3, ?4, ?5, 0)",
        params![
            entry.at_ns as i64,
            entry.attack,
            entry.target,
            entry.description,
            serde_json::to_string(&entry.undo)?
        ],
    )
    .context("writing the attack journal")?;
    Ok(conn.last_insert_rowid())
}

pub(crate) fn read_sqlite(conn: &Connection) -> Result<Vec<JournalEntry>> {
    let mut stmt = conn.prepare(
        "SELECT id, at_ns, attack, target, description, undo, restored FROM attack_journal ORDER BY id",
    )?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, i64>(6)?,
            ))
        })?
        .collect::<conanchor_store::rusqlite::Result<Vec<_>>>()?;
    rows.into_iter()
        .map(|(id, at, attack, target, description, undo, restored)| {
            let undo: Undo = serde_json::from_str(&undo)
                .with_context(|| format!("attack journal entry {id}: undo is not readable"))?;
            Ok(JournalEntry {
                id,
                at_ns: at as u64,
                attack,
                target,
                description,
                undo,
                restored: restored != 0,
            })
        })
        .collect()
}

pub(crate) fn mark_restored_sqlite(conn: &Connection, id: i64) -> Result<()> {
    conn.execute("UPDATE attack_journal SET restored = 1 WHERE id = ?1", [id])?;
    Ok(())
}

/// The id of the newest entry not yet restored.
pub(crate) fn last_open_sqlite(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn
        .query_row(
            "SELECT max(id) FROM attack_journal WHERE restored = 0",
            [],
            |r| r.get::<_, Option<i64>>(0),
        )
        .optional()?
        .flatten())
}

// ---- export journal --------------------------------------------------------------------

pub(crate) fn export_journal_path(root: &Path) -> PathBuf {
    root.join(EXPORT_JOURNAL)
}

pub(crate) fn read_export(root: &Path) -> Result<Vec<JournalEntry>> {
    let path = export_journal_path(root);
    let text = match fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l)
                .with_context(|| format!("{} line {}: not a journal entry", path.display(), i + 1))
        })
        .collect()
}

pub(crate) fn write_export(root: &Path, entries: &[JournalEntry]) -> Result<()> {
    let path = export_journal_path(root);
    conanchor_store::export::write_atomic(&path, |w| {
        use std::io::Write;
        for e in entries {
            serde_json::to_writer(&mut *w, e)?;
            w.write_all(b"\n")?;
        }
        Ok(())
    })?;
    Ok(())
}

/// Every journaled attack of a data dir (SQLite) or export, oldest first.
pub fn entries(data_dir: &Path, target: AttackTarget) -> Result<Vec<JournalEntry>> {
    match target {
        AttackTarget::Sqlite => {
            let mut store = Store::open_existing(data_dir)?;
            read_sqlite(store.connection())
        }
        AttackTarget::Export => read_export(data_dir),
    }
}

// ---- originals for the diff view -------------------------------------------------------

/// The original content recorded by the journal (open entries only), as a source of
/// authentic originals for [`crate::diff::diff_batch`]. Labelled "attack journal".
pub struct JournalSource {
    entries: Vec<JournalEntry>,
}

impl JournalSource {
    pub fn open(data_dir: &Path, target: AttackTarget) -> Result<JournalSource> {
        Ok(JournalSource {
            entries: entries(data_dir, target)?
                .into_iter()
                .filter(|e| !e.restored)
                .collect(),
        })
    }

    pub fn from_entries(entries: Vec<JournalEntry>) -> JournalSource {
        JournalSource { entries }
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl crate::diff::OriginalSource for JournalSource {
    fn label(&self) -> String {
        "attack journal".to_string()
    }

    fn kind(&self) -> crate::diff::SourceKind {
        crate::diff::SourceKind::Journal
    }

    fn original_events(&mut self, cid: &str, first: u64, last: u64) -> Result<Vec<Event>> {
        // The oldest entry holds the content before any attack touched it.
        let mut out: Vec<Event> = Vec::new();
        for e in &self.entries {
            for ev in &e.undo.before.events {
                if ev.container_instance_id == cid
                    && (first..=last).contains(&ev.container_seq)
                    && !out.contains(ev)
                {
                    out.push(ev.clone());
                }
            }
        }
        Ok(out)
    }

    fn original_anchor(&mut self, cid: &str, batch_id: u64) -> Result<Option<BatchHeader>> {
        Ok(self.entries.iter().find_map(|e| {
            e.undo.before.anchors.iter().find_map(|a| {
                (a.container_instance_id == cid && a.container_batch_id == batch_id)
                    .then(|| a.clone())
            })
        }))
    }

    fn original_leaf_list(&mut self, cid: &str, batch_id: u64) -> Result<Option<Vec<LogTagRef>>> {
        Ok(self.entries.iter().find_map(|e| {
            e.undo.before.batches.iter().find_map(|b| {
                (b.header.container_instance_id == cid && b.header.container_batch_id == batch_id)
                    .then(|| b.tag_refs())
            })
        }))
    }
}

pub(crate) fn check_table(table: &str) -> Result<()> {
    match table {
        "events" | "batches" | "anchor_outbox" | "containers" => Ok(()),
        other => bail!("the attack journal names an unknown table {other:?}"),
    }
}
