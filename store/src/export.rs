//! The seed's on-disk layout, for evidence bundles handed to auditors:
//! `logs/<container_instance_id>.jsonl` and `batches/<container_instance_id>/batch_<id>.json`.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::encoding::{leaf_hash_with, EventFields};
use crate::error::{check_container_id, Result, StoreError};
use crate::model::{Batch, Event};
use crate::reader::{EvidenceReader, LeafRow};
use crate::sqlite::{AnchoredItem, CommitSet, ContainerRow, Store, StoredEvent};

pub const LOGS_DIR: &str = "logs";
pub const BATCHES_DIR: &str = "batches";

/// Events of one container loaded from its JSONL file, in file order, with an index of
/// positions sorted by `container_seq` for range look-ups.
struct LoadedLog {
    cid: String,
    events: Vec<Event>,
    by_seq: Vec<usize>,
    problems: Vec<String>,
}

/// An exported evidence directory, read-only.
pub struct ExportDir {
    root: PathBuf,
    cache: Option<LoadedLog>,
}

/// True when `dir` looks like an export (it has `logs/` or `batches/`).
pub fn is_export_dir(dir: &Path) -> bool {
    dir.join(LOGS_DIR).is_dir() || dir.join(BATCHES_DIR).is_dir()
}

pub fn log_path(root: &Path, cid: &str) -> PathBuf {
    root.join(LOGS_DIR).join(format!("{cid}.jsonl"))
}

pub fn batch_path(root: &Path, cid: &str, batch_id: u64) -> PathBuf {
    root.join(BATCHES_DIR)
        .join(cid)
        .join(format!("batch_{batch_id}.json"))
}

/// Parses one JSONL log. Lines that are not events become problems naming the line.
pub fn read_log(path: &Path) -> Result<(Vec<Event>, Vec<String>)> {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), Vec::new())),
        Err(e) => return Err(StoreError::io(path, e)),
    };
    let mut events = Vec::new();
    let mut problems = Vec::new();
    let name = path
        .file_name()
        .map(|n| format!("{}/{}", LOGS_DIR, n.to_string_lossy()))
        .unwrap_or_default();
    for (i, line) in BufReader::new(file).split(b'\n').enumerate() {
        let line = line.map_err(|e| StoreError::io(path, e))?;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match serde_json::from_slice::<Event>(&line) {
            Ok(ev) => events.push(ev),
            Err(e) => problems.push(format!("{name} line {}: {e}", i + 1)),
        }
    }
    Ok((events, problems))
}

impl ExportDir {
    pub fn open(root: &Path) -> Result<ExportDir> {
        if !is_export_dir(root) {
            return Err(StoreError::NotFound {
                path: root.to_path_buf(),
            });
        }
        Ok(ExportDir {
            root: root.to_path_buf(),
            cache: None,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn log(&mut self, cid: &str) -> Result<&LoadedLog> {
        if self.cache.as_ref().is_none_or(|c| c.cid != cid) {
            check_container_id(cid)?;
            let (events, problems) = read_log(&log_path(&self.root, cid))?;
            let mut by_seq: Vec<usize> = (0..events.len()).collect();
            by_seq.sort_by_key(|&i| (events[i].container_seq, i));
            self.cache = Some(LoadedLog {
                cid: cid.to_string(),
                events,
                by_seq,
                problems,
            });
        }
        self.cache
            .as_ref()
            .ok_or_else(|| StoreError::Invalid("log cache empty".into()))
    }

    /// Events with `first <= container_seq <= last`, in file order.
    fn range(&mut self, cid: &str, first: u64, last: u64) -> Result<Vec<&Event>> {
        let log = self.log(cid)?;
        let seq = |&i: &usize| log.events[i].container_seq;
        let lo = log.by_seq.partition_point(|i| seq(i) < first);
        let hi = log.by_seq.partition_point(|i| seq(i) <= last);
        let mut pos: Vec<usize> = log.by_seq[lo..hi.max(lo)].to_vec();
        pos.sort_unstable();
        Ok(pos.into_iter().map(|i| &log.events[i]).collect())
    }
}

fn list_dir(dir: &Path) -> Result<Vec<String>> {
    match fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| {
                e.map(|e| e.file_name().to_string_lossy().into_owned())
                    .map_err(|err| StoreError::io(dir, err))
            })
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(StoreError::io(dir, e)),
    }
}

impl EvidenceReader for ExportDir {
    fn kind(&self) -> &'static str {
        "export"
    }

    fn location(&self) -> &Path {
        &self.root
    }

    fn container_ids(&mut self) -> Result<Vec<String>> {
        let mut ids = BTreeSet::new();
        for name in list_dir(&self.root.join(LOGS_DIR))? {
            if let Some(stem) = name.strip_suffix(".jsonl") {
                ids.insert(stem.to_string());
            }
        }
        for name in list_dir(&self.root.join(BATCHES_DIR))? {
            if self.root.join(BATCHES_DIR).join(&name).is_dir() {
                ids.insert(name);
            }
        }
        Ok(ids.into_iter().collect())
    }

    fn batch(
        &mut self,
        cid: &str,
        batch_id: u64,
    ) -> Result<Option<std::result::Result<Batch, String>>> {
        check_container_id(cid)?;
        let path = batch_path(&self.root, cid, batch_id);
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(StoreError::io(&path, e)),
        };
        let shown = format!("{BATCHES_DIR}/{cid}/batch_{batch_id}.json");
        Ok(Some(match serde_json::from_slice::<Batch>(&bytes) {
            Ok(b) if b.header.container_batch_id != batch_id => Err(format!(
                "{shown}: holds container_batch_id {}",
                b.header.container_batch_id
            )),
            Ok(b) => Ok(b),
            Err(e) => Err(format!("{shown}: {e}")),
        }))
    }

    fn batch_ids(&mut self, cid: &str) -> Result<Vec<u64>> {
        check_container_id(cid)?;
        let mut ids: Vec<u64> = list_dir(&self.root.join(BATCHES_DIR).join(cid))?
            .iter()
            .filter_map(|n| {
                n.strip_prefix("batch_")?
                    .strip_suffix(".json")?
                    .parse()
                    .ok()
            })
            .collect();
        ids.sort_unstable();
        Ok(ids)
    }

    fn leaves_in_range(&mut self, cid: &str, first: u64, last: u64) -> Result<Vec<LeafRow>> {
        let mut buf = Vec::with_capacity(512);
        Ok(self
            .range(cid, first, last)?
            .iter()
            .map(|e| LeafRow {
                container_seq: e.container_seq,
                global_seq: e.global_seq,
                timestamp_ns: e.timestamp_ns,
                hash: leaf_hash_with(&EventFields::from(*e), &mut buf),
            })
            .collect())
    }

    fn events_in_range(&mut self, cid: &str, first: u64, last: u64) -> Result<Vec<Event>> {
        Ok(self.range(cid, first, last)?.into_iter().cloned().collect())
    }

    fn load_problems(&mut self, cid: &str) -> Result<Vec<String>> {
        Ok(self.log(cid)?.problems.clone())
    }

    fn pending_batch_ids(&mut self, cid: &str) -> Result<Vec<u64>> {
        let mut out = Vec::new();
        for id in self.batch_ids(cid)? {
            if let Some(Ok(b)) = self.batch(cid, id)? {
                if b.tx_id.is_none() {
                    out.push(id);
                }
            }
        }
        Ok(out)
    }

    fn unsealed_count(&mut self, cid: &str) -> Result<u64> {
        let last_sealed = match self.batch_ids(cid)?.last() {
            Some(&id) => match self.batch(cid, id)? {
                Some(Ok(b)) => b.header.last_container_seq,
                _ => return Ok(0),
            },
            None => 0,
        };
        Ok(self
            .log(cid)?
            .events
            .iter()
            .filter(|e| e.container_seq > last_sealed)
            .count() as u64)
    }
}

/// Writes `path` atomically: a temporary file in the same directory, fsynced, then renamed.
pub fn write_atomic(
    path: &Path,
    f: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| StoreError::io(dir, e))?;
    let tmp = path.with_extension("tmp-conanchor");
    let io = |e| StoreError::io(path, e);
    let file = File::create(&tmp).map_err(io)?;
    let mut w = BufWriter::new(file);
    f(&mut w).map_err(io)?;
    let file = w.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)?;
    fs::rename(&tmp, path).map_err(io)
}

/// What an export or import wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransferSummary {
    pub containers: usize,
    pub events: u64,
    pub batches: u64,
}

const EXPORT_CHUNK: u64 = 50_000;

/// Writes every container's events and sealed batches from `reader` into `out` in the seed's
/// layout. The ledger copy is the caller's job (it knows the backend).
pub fn export(reader: &mut dyn EvidenceReader, out: &Path) -> Result<TransferSummary> {
    let mut summary = TransferSummary::default();
    for cid in reader.container_ids()? {
        check_container_id(&cid)?;
        summary.containers += 1;
        let ids = reader.batch_ids(&cid)?;
        let mut batches = Vec::with_capacity(ids.len());
        for id in ids {
            match reader.batch(&cid, id)? {
                Some(Ok(b)) => batches.push(b),
                Some(Err(reason)) => {
                    return Err(StoreError::BadInput {
                        path: reader.location().to_path_buf(),
                        reason: format!("cannot export a damaged batch: {reason}"),
                    })
                }
                None => {}
            }
        }
        let mut count = 0u64;
        let mut failure = None;
        write_atomic(&log_path(out, &cid), |w| {
            let mut from = 0u64;
            loop {
                let chunk = match reader.events_in_range(&cid, from, from + EXPORT_CHUNK - 1) {
                    Ok(c) => c,
                    Err(e) => {
                        failure = Some(e);
                        return Err(std::io::Error::other("read failed"));
                    }
                };
                for ev in &chunk {
                    serde_json::to_writer(&mut *w, ev)?;
                    w.write_all(b"\n")?;
                }
                count += chunk.len() as u64;
                from += EXPORT_CHUNK;
                // Stop once past the highest sequence number the container can have.
                let max_seq = batches.last().map_or(0, |b| b.header.last_container_seq);
                if chunk.is_empty() && from > max_seq {
                    let rest = match reader.events_in_range(&cid, from, u64::MAX >> 1) {
                        Ok(c) => c,
                        Err(e) => {
                            failure = Some(e);
                            return Err(std::io::Error::other("read failed"));
                        }
                    };
                    for ev in &rest {
                        serde_json::to_writer(&mut *w, ev)?;
                        w.write_all(b"\n")?;
                    }
                    count += rest.len() as u64;
                    return Ok(());
                }
            }
        })
        .map_err(|e| failure.take().unwrap_or(e))?;
        summary.events += count;
        for b in &batches {
            write_atomic(&batch_path(out, &cid, b.header.container_batch_id), |w| {
                serde_json::to_writer_pretty(&mut *w, b)?;
                w.write_all(b"\n")
            })?;
        }
        summary.batches += batches.len() as u64;
    }
    Ok(summary)
}

/// Loads an export into a new SQLite store. Refuses damaged input (it names the line) so
/// that nothing is silently dropped; verify the export first to see what is wrong.
pub fn import(src: &mut ExportDir, store: &mut Store) -> Result<TransferSummary> {
    if store.stats()?.events > 0 {
        return Err(StoreError::BadInput {
            path: store.path().to_path_buf(),
            reason: "the target store is not empty; import into a new --data-dir".into(),
        });
    }
    let mut summary = TransferSummary::default();
    for (i, cid) in src.container_ids()?.into_iter().enumerate() {
        check_container_id(&cid)?;
        let problems = src.load_problems(&cid)?;
        if let Some(p) = problems.first() {
            return Err(StoreError::BadInput {
                path: src.root.clone(),
                reason: format!(
                    "{p} (and {} more); fix or verify the export",
                    problems.len() - 1
                ),
            });
        }
        let events = src.events_in_range(&cid, 0, u64::MAX >> 1)?;
        let mut batches = Vec::new();
        for id in src.batch_ids(&cid)? {
            match src.batch(&cid, id)? {
                Some(Ok(b)) => batches.push(b),
                Some(Err(reason)) => {
                    return Err(StoreError::BadInput {
                        path: src.root.clone(),
                        reason,
                    })
                }
                None => {}
            }
        }
        let key = i as i64 + 1;
        let first = events.first();
        let last_batch = batches.last();
        let row = ContainerRow {
            key,
            container_instance_id: cid.clone(),
            container_id: first.map(|e| e.container_id.clone()).unwrap_or_default(),
            cgroup_id: first.map(|e| e.cgroup_id.clone()).unwrap_or_default(),
            next_container_seq: events.iter().map(|e| e.container_seq).max().unwrap_or(0) + 1,
            next_batch_id: last_batch.map_or(0, |b| b.header.container_batch_id) + 1,
            last_batch_hash: last_batch
                .map_or(crate::Hash32::ZERO, |b| b.header.container_batch_hash),
            open_dropped: 0,
            first_seen_ns: events.iter().map(|e| e.timestamp_ns).min().unwrap_or(0),
            last_seen_ns: events.iter().map(|e| e.timestamp_ns).max().unwrap_or(0),
        };
        let anchored: Vec<AnchoredItem> = batches
            .iter()
            .filter_map(|b| {
                Some(AnchoredItem {
                    container_instance_id: cid.clone(),
                    container_batch_id: b.header.container_batch_id,
                    tx_id: b.tx_id.clone()?,
                    block_height: b.block_height.unwrap_or(0),
                })
            })
            .collect();
        let next_global_seq = store
            .next_global_seq()?
            .max(events.iter().map(|e| e.global_seq).max().unwrap_or(0) + 1);
        summary.containers += 1;
        summary.events += events.len() as u64;
        summary.batches += batches.len() as u64;
        let set = CommitSet {
            containers: vec![row],
            events: events
                .into_iter()
                .map(|e| StoredEvent::new(key, e))
                .collect(),
            batches: batches
                .iter()
                .map(|b| (key, b.header.clone(), b.tag_refs()))
                .collect(),
            next_global_seq,
            sealed_at_ns: 0,
        };
        store.commit(&set)?;
        store.mark_anchored(&anchored, 0)?;
    }
    Ok(summary)
}
