//! Line-level and whole-file edits of exported JSONL files and the mock chain, each one
//! recorded as an [`UndoOp`] so it can be reversed exactly.

use std::fs::{self, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use super::journal::UndoOp;

/// Resolves a journaled path against the data dir / export root.
pub fn resolve(root: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() {
        path.to_path_buf()
    } else {
        root.join(path)
    }
}

/// The path to journal: relative to `root` when inside it (so the directory can move).
pub fn relative(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}

/// The lines of a text file, without their `\n` (a missing file has none).
pub fn read_lines(path: &Path) -> Result<Vec<String>> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    if lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    Ok(lines)
}

/// Rewrites a text file in place under an exclusive lock (the mock chain's appenders take
/// the same lock, so an edit never interleaves with an append).
fn write_lines(path: &Path, edit: impl FnOnce(&mut Vec<String>) -> Result<()>) -> Result<()> {
    let ctx = || format!("rewriting {}", path.display());
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .with_context(ctx)?;
    file.lock().with_context(ctx)?;
    let mut text = String::new();
    file.read_to_string(&mut text).with_context(ctx)?;
    let mut lines: Vec<String> = text.split('\n').map(str::to_string).collect();
    if lines.last().is_some_and(String::is_empty) {
        lines.pop();
    }
    edit(&mut lines)?;
    let mut out = lines.join("\n");
    if !lines.is_empty() {
        out.push('\n');
    }
    file.seek(SeekFrom::Start(0)).with_context(ctx)?;
    file.write_all(out.as_bytes()).with_context(ctx)?;
    file.set_len(out.len() as u64).with_context(ctx)?;
    file.sync_all().with_context(ctx)?;
    file.unlock().with_context(ctx)?;
    Ok(())
}

/// Replaces lines `index..index + remove` of `root/path` by `inserted`; returns the op.
pub fn splice(
    root: &Path,
    path: &Path,
    index: usize,
    remove: usize,
    inserted: Vec<String>,
) -> Result<UndoOp> {
    let full = resolve(root, path);
    let mut removed = Vec::new();
    write_lines(&full, |lines| {
        if index + remove > lines.len() {
            bail!(
                "{} has {} lines, cannot replace lines {}..{}",
                full.display(),
                lines.len(),
                index + 1,
                index + remove
            );
        }
        removed = lines
            .splice(index..index + remove, inserted.iter().cloned())
            .collect();
        Ok(())
    })?;
    Ok(UndoOp::Lines {
        path: path.to_path_buf(),
        index,
        removed,
        inserted,
    })
}

/// Reverses a [`UndoOp::Lines`]; refuses when the file no longer holds what the attack
/// wrote (someone edited it since), rather than guessing.
pub fn unsplice(
    root: &Path,
    path: &Path,
    index: usize,
    removed: &[String],
    inserted: &[String],
) -> Result<()> {
    let full = resolve(root, path);
    write_lines(&full, |lines| {
        let end = index + inserted.len();
        if end > lines.len() || lines[index..end] != *inserted {
            bail!(
                "{} line {} no longer holds what the attack wrote; restore by hand or re-export",
                full.display(),
                index + 1
            );
        }
        lines.splice(index..end, removed.iter().cloned());
        Ok(())
    })
}

/// Replaces (or with `None` removes) a whole file; returns the op.
pub fn replace_file(root: &Path, path: &Path, after: Option<String>) -> Result<UndoOp> {
    let full = resolve(root, path);
    let before = match fs::read_to_string(&full) {
        Ok(t) => Some(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", full.display())),
    };
    put_file(&full, after.as_deref())?;
    Ok(UndoOp::File {
        path: path.to_path_buf(),
        before,
        after,
    })
}

/// Writes (atomically) or removes a file.
pub fn put_file(full: &Path, content: Option<&str>) -> Result<()> {
    match content {
        Some(text) => {
            conanchor_store::export::write_atomic(full, |w| w.write_all(text.as_bytes()))?;
        }
        None => match fs::remove_file(full) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("removing {}", full.display())),
        },
    }
    Ok(())
}

/// Reverses one file op (row ops are not files: nothing to do).
pub fn undo_file_op(root: &Path, op: &UndoOp) -> Result<()> {
    match op {
        UndoOp::Lines {
            path,
            index,
            removed,
            inserted,
        } => unsplice(root, path, *index, removed, inserted),
        UndoOp::File { path, before, .. } => put_file(&resolve(root, path), before.as_deref()),
        UndoOp::Row { .. } => Ok(()),
    }
}

/// Best-effort reversal of file ops after a failed attack (newest first).
pub fn undo_file_ops(root: &Path, ops: &[UndoOp]) {
    for op in ops.iter().rev() {
        if let Err(e) = undo_file_op(root, op) {
            tracing::warn!("could not undo a file change: {e:#}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_and_unsplice_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.jsonl");
        fs::write(&p, "a\nb\nc\n").unwrap();
        let op = splice(
            dir.path(),
            Path::new("f.jsonl"),
            1,
            1,
            vec!["X".into(), "Y".into()],
        )
        .unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "a\nX\nY\nc\n");
        let UndoOp::Lines {
            index,
            removed,
            inserted,
            ..
        } = op
        else {
            panic!("not a lines op");
        };
        unsplice(dir.path(), Path::new("f.jsonl"), index, &removed, &inserted).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "a\nb\nc\n");
        assert!(unsplice(dir.path(), Path::new("f.jsonl"), index, &removed, &inserted).is_err());
    }
}
