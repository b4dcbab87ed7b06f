//! The single writer: assigns sequence numbers, hashes events, seals per-container batches
//! and group-commits them to SQLite with their outbox rows.

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, Instant};

use crate::encoding::{encode_event, leaf_hash_of_canonical, EventFields};
use crate::error::{check_container_id, Result, StoreError};
use crate::hash::Hash32;
use crate::merkle::merkle_root;
use crate::model::{BatchHeader, Event, LogTagRef};
use crate::sqlite::{CommitSet, ContainerRow, Store, StoredEvent};

#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// A batch seals when it holds this many events.
    pub batch_size: usize,
    pub collector_id: String,
}

struct OpenBatch {
    tags: Vec<LogTagRef>,
    min_ts: u64,
    max_ts: u64,
    opened_at: Option<Instant>,
}

impl OpenBatch {
    fn new() -> OpenBatch {
        OpenBatch {
            tags: Vec::new(),
            min_ts: u64::MAX,
            max_ts: 0,
            opened_at: None,
        }
    }

    fn push(&mut self, tag: LogTagRef, ts: u64) {
        self.min_ts = self.min_ts.min(ts);
        self.max_ts = self.max_ts.max(ts);
        self.tags.push(tag);
    }
}

struct ContainerState {
    row: ContainerRow,
    open: OpenBatch,
    /// Changed since the last commit (mirrors membership in `Writer::dirty`).
    dirty: bool,
}

/// Counts of what one [`Writer::commit`] made durable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CommitStats {
    pub events: usize,
    pub batches: usize,
}

pub struct Writer {
    store: Store,
    cfg: WriterConfig,
    containers: HashMap<String, ContainerState>,
    next_key: i64,
    next_global_seq: u64,
    pending: CommitSet,
    dirty: BTreeSet<String>,
    sealed: Vec<BatchHeader>,
    scratch: Vec<u8>,
}

impl Writer {
    /// Resumes from what the store holds: counters, and each container's unsealed events
    /// re-hashed from disk into its open batch.
    pub fn open(mut store: Store, cfg: WriterConfig) -> Result<Writer> {
        if cfg.batch_size == 0 {
            return Err(StoreError::Invalid("batch size must be at least 1".into()));
        }
        let rows = store.load_containers()?;
        let next_global_seq = store.next_global_seq()?;
        let mut containers = HashMap::new();
        let mut next_key = 1;
        for row in rows {
            next_key = next_key.max(row.key + 1);
            let from = store.last_sealed_seq(row.key)? + 1;
            let mut open = OpenBatch::new();
            for (tag, ts) in store.open_leaves(&row.container_instance_id, from)? {
                open.push(tag, ts);
            }
            if !open.tags.is_empty() {
                open.opened_at = Some(Instant::now());
            }
            containers.insert(
                row.container_instance_id.clone(),
                ContainerState {
                    row,
                    open,
                    dirty: false,
                },
            );
        }
        let mut writer = Writer {
            store,
            cfg,
            containers,
            next_key,
            next_global_seq,
            pending: CommitSet::default(),
            dirty: BTreeSet::new(),
            sealed: Vec::new(),
            scratch: Vec::with_capacity(512),
        };
        // A restart with a smaller batch size seals what is already over it.
        let over: Vec<String> = writer
            .containers
            .iter()
            .filter(|(_, c)| c.open.tags.len() >= writer.cfg.batch_size)
            .map(|(k, _)| k.clone())
            .collect();
        for cid in over {
            writer.seal(&cid);
        }
        Ok(writer)
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn config(&self) -> &WriterConfig {
        &self.cfg
    }

    fn state(&mut self, ev: &Event) -> Result<&mut ContainerState> {
        if !self.containers.contains_key(&ev.container_instance_id) {
            check_container_id(&ev.container_instance_id)?;
            let key = self.next_key;
            self.next_key += 1;
            let row = ContainerRow {
                key,
                container_instance_id: ev.container_instance_id.clone(),
                container_id: ev.container_id.clone(),
                cgroup_id: ev.cgroup_id.clone(),
                next_container_seq: 1,
                next_batch_id: 1,
                last_batch_hash: Hash32::ZERO,
                open_dropped: 0,
                first_seen_ns: ev.timestamp_ns,
                last_seen_ns: ev.timestamp_ns,
            };
            self.containers.insert(
                ev.container_instance_id.clone(),
                ContainerState {
                    row,
                    open: OpenBatch::new(),
                    dirty: false,
                },
            );
        }
        self.containers
            .get_mut(&ev.container_instance_id)
            .ok_or_else(|| StoreError::Invalid("container state vanished".into()))
    }

    /// Assigns `global_seq` and `container_seq`, hashes the event and queues it for the
    /// next commit. Seals the container's batch when it reaches the batch size.
    pub fn append(&mut self, mut ev: Event) -> Result<&Event> {
        if !self.containers.contains_key(&ev.container_instance_id) {
            self.state(&ev)?;
        }
        let global_seq = self.next_global_seq;
        let Some(st) = self.containers.get_mut(&ev.container_instance_id) else {
            return Err(StoreError::Invalid("container state vanished".into()));
        };
        ev.global_seq = global_seq;
        ev.container_seq = st.row.next_container_seq;
        st.row.next_container_seq += 1;
        st.row.last_seen_ns = st.row.last_seen_ns.max(ev.timestamp_ns);
        // Encoded once: the stored bytes are the hashed bytes.
        let mut canonical = Vec::with_capacity(self.scratch.capacity());
        encode_event(&EventFields::from(&ev), &mut canonical);
        let hash = leaf_hash_of_canonical(&canonical, &mut self.scratch);
        if st.open.opened_at.is_none() {
            st.open.opened_at = Some(Instant::now());
        }
        st.open.push(
            LogTagRef {
                global_seq,
                container_seq: ev.container_seq,
                hash,
            },
            ev.timestamp_ns,
        );
        let full = st.open.tags.len() >= self.cfg.batch_size;
        if !st.dirty {
            st.dirty = true;
            self.dirty.insert(ev.container_instance_id.clone());
        }
        let key = st.row.key;
        self.next_global_seq += 1;
        let cid = full.then(|| ev.container_instance_id.clone());
        self.pending.events.push(StoredEvent {
            key,
            event: ev,
            canonical,
        });
        if let Some(cid) = cid {
            self.seal(&cid);
        }
        let last = self.pending.events.len() - 1;
        Ok(&self.pending.events[last].event)
    }

    /// Attributes kernel drops to the container's open batch (`dropped_event_count`).
    pub fn add_drops(&mut self, template: &Event, count: u64) -> Result<()> {
        if count == 0 {
            return Ok(());
        }
        let st = self.state(template)?;
        st.row.open_dropped += count;
        st.dirty = true;
        self.dirty.insert(template.container_instance_id.clone());
        Ok(())
    }

    fn seal(&mut self, cid: &str) {
        let collector_id = self.cfg.collector_id.clone();
        let Some(st) = self.containers.get_mut(cid) else {
            return;
        };
        let open = std::mem::replace(&mut st.open, OpenBatch::new());
        let (Some(first), Some(last)) = (open.tags.first(), open.tags.last()) else {
            return;
        };
        let leaves: Vec<Hash32> = open.tags.iter().map(|t| t.hash).collect();
        let Some(root) = merkle_root(&leaves) else {
            return;
        };
        let mut header = BatchHeader {
            container_instance_id: cid.to_string(),
            container_batch_id: st.row.next_batch_id,
            first_container_seq: first.container_seq,
            last_container_seq: last.container_seq,
            first_global_seq: first.global_seq,
            last_global_seq: last.global_seq,
            event_count: open.tags.len() as u64,
            dropped_event_count: st.row.open_dropped,
            start_time_ns: open.min_ts,
            end_time_ns: open.max_ts,
            previous_container_batch_hash: st.row.last_batch_hash,
            merkle_root: root,
            container_batch_hash: Hash32::ZERO,
            collector_id,
        };
        header.container_batch_hash = header.compute_hash();
        st.row.next_batch_id += 1;
        st.row.last_batch_hash = header.container_batch_hash;
        st.row.open_dropped = 0;
        let key = st.row.key;
        st.dirty = true;
        self.dirty.insert(cid.to_string());
        self.sealed.push(header.clone());
        self.pending.batches.push((key, header, open.tags));
    }

    /// Seals every open batch whose first event arrived at least `max_age` ago.
    pub fn seal_due(&mut self, max_age: Duration) -> usize {
        let now = Instant::now();
        let due: Vec<String> = self
            .containers
            .iter()
            .filter(|(_, c)| {
                !c.open.tags.is_empty()
                    && c.open
                        .opened_at
                        .is_some_and(|t| now.saturating_duration_since(t) >= max_age)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for cid in &due {
            self.seal(cid);
        }
        due.len()
    }

    /// Seals every open batch (shutdown flush).
    pub fn seal_all(&mut self) -> usize {
        let open: Vec<String> = self
            .containers
            .iter()
            .filter(|(_, c)| !c.open.tags.is_empty())
            .map(|(k, _)| k.clone())
            .collect();
        for cid in &open {
            self.seal(cid);
        }
        open.len()
    }

    /// Events queued since the last commit.
    pub fn uncommitted(&self) -> usize {
        self.pending.events.len()
    }

    /// Makes everything queued durable in one transaction. On error nothing is dropped:
    /// the same data is written by the next successful commit.
    pub fn commit(&mut self, now_ns: u64) -> Result<CommitStats> {
        if self.pending.events.is_empty()
            && self.pending.batches.is_empty()
            && self.dirty.is_empty()
        {
            return Ok(CommitStats::default());
        }
        self.pending.containers = self
            .dirty
            .iter()
            .filter_map(|cid| self.containers.get(cid).map(|c| c.row.clone()))
            .collect();
        self.pending.next_global_seq = self.next_global_seq;
        self.pending.sealed_at_ns = now_ns;
        self.store.commit(&self.pending)?;
        let stats = CommitStats {
            events: self.pending.events.len(),
            batches: self.pending.batches.len(),
        };
        // Keep the buffers' capacity for the next group.
        self.pending.events.clear();
        self.pending.batches.clear();
        self.pending.containers.clear();
        for cid in std::mem::take(&mut self.dirty) {
            if let Some(c) = self.containers.get_mut(&cid) {
                c.dirty = false;
            }
        }
        Ok(stats)
    }

    /// Headers sealed since the last call (for progress logs and the UI).
    pub fn take_sealed(&mut self) -> Vec<BatchHeader> {
        std::mem::take(&mut self.sealed)
    }

    /// Events currently in open (unsealed) batches, per container.
    pub fn open_counts(&self) -> Vec<(String, usize)> {
        let mut v: Vec<(String, usize)> = self
            .containers
            .iter()
            .map(|(k, c)| (k.clone(), c.open.tags.len()))
            .collect();
        v.sort();
        v
    }

    pub fn next_global_seq(&self) -> u64 {
        self.next_global_seq
    }
}
