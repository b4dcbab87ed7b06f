//! The evidence model: events, sealed batches and the anchor records a ledger holds.
//! Field names and order follow the seed's JSON (`docs/FORMAT.md`).

use serde::{Deserialize, Serialize};

use crate::encoding;
use crate::hash::Hash32;

/// `event_type` values.
pub const EVENT_TYPES: [&str; 3] = ["exec", "file_open", "mount"];

/// One security event, exactly as stored, exported and hashed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Event {
    pub global_seq: u64,
    pub container_seq: u64,
    pub timestamp_ns: u64,
    pub event_type: String,
    pub pid: u32,
    pub tgid: u32,
    pub uid: u32,
    pub gid: u32,
    pub comm: String,
    pub path: String,
    pub extra: String,
    pub flags: u64,
    pub retval: i64,
    /// The cgroup v2 id as a decimal string (the seed's JSON type).
    pub cgroup_id: String,
    pub container_id: String,
    pub container_instance_id: String,
    pub risk: String,
    pub policy: String,
}

impl Event {
    /// `SHA-256(0x00 || canonical_event)`.
    pub fn leaf_hash(&self) -> Hash32 {
        encoding::leaf_hash(&encoding::EventFields::from(self))
    }

    pub fn canonical_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        encoding::encode_event(&encoding::EventFields::from(self), &mut out);
        out
    }
}

/// The stored leaf list of a batch: one tag per event, in `container_seq` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogTagRef {
    pub global_seq: u64,
    pub container_seq: u64,
    pub hash: Hash32,
}

/// A leaf tag in the seed's JSON shape (the container id repeated on every tag).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogTag {
    pub global_seq: u64,
    pub container_seq: u64,
    pub container_instance_id: String,
    pub hash: Hash32,
}

/// The committed fields of a sealed batch (everything but the leaf list).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchHeader {
    pub container_instance_id: String,
    /// 1-based, contiguous per container instance.
    pub container_batch_id: u64,
    pub first_container_seq: u64,
    pub last_container_seq: u64,
    pub first_global_seq: u64,
    pub last_global_seq: u64,
    pub event_count: u64,
    pub dropped_event_count: u64,
    pub start_time_ns: u64,
    pub end_time_ns: u64,
    pub previous_container_batch_hash: Hash32,
    pub merkle_root: Hash32,
    pub container_batch_hash: Hash32,
    pub collector_id: String,
}

impl BatchHeader {
    /// `SHA-256(canonical_batch)`: what `container_batch_hash` must equal.
    pub fn compute_hash(&self) -> Hash32 {
        Hash32::sha256(&encoding::encode_batch(self))
    }

    /// Names of the committed fields that differ between two headers.
    pub fn differing_fields(&self, other: &BatchHeader) -> Vec<&'static str> {
        let mut out = Vec::new();
        macro_rules! cmp {
            ($($f:ident),*) => {$(
                if self.$f != other.$f { out.push(stringify!($f)); }
            )*};
        }
        cmp!(
            container_instance_id,
            container_batch_id,
            first_container_seq,
            last_container_seq,
            first_global_seq,
            last_global_seq,
            event_count,
            dropped_event_count,
            start_time_ns,
            end_time_ns,
            previous_container_batch_hash,
            merkle_root,
            container_batch_hash,
            collector_id
        );
        out
    }
}

/// A sealed batch as exported: `batches/<container_instance_id>/batch_<id>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    #[serde(flatten)]
    pub header: BatchHeader,
    pub log_tags: Vec<LogTag>,
    /// Where the store says this batch was anchored (absent while pending). Informational:
    /// the verifier trusts the ledger, and reports `ANCHOR_NOT_FOUND` when this claims an
    /// anchor the ledger does not have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_height: Option<u64>,
}

impl Batch {
    pub fn from_parts(header: BatchHeader, tags: &[LogTagRef]) -> Batch {
        let log_tags = tags
            .iter()
            .map(|t| LogTag {
                global_seq: t.global_seq,
                container_seq: t.container_seq,
                container_instance_id: header.container_instance_id.clone(),
                hash: t.hash,
            })
            .collect();
        Batch {
            header,
            log_tags,
            tx_id: None,
            block_height: None,
        }
    }

    pub fn tag_refs(&self) -> Vec<LogTagRef> {
        self.log_tags
            .iter()
            .map(|t| LogTagRef {
                global_seq: t.global_seq,
                container_seq: t.container_seq,
                hash: t.hash,
            })
            .collect()
    }
}

/// What a ledger holds for one batch: the committed header plus where it landed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnchorRecord {
    #[serde(flatten)]
    pub header: BatchHeader,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_height: Option<u64>,
}

/// Where a sealed batch stands with its ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AnchorState {
    Pending {
        attempts: u32,
        last_error: Option<String>,
    },
    Anchored {
        tx_id: String,
        block_height: u64,
    },
}
