//! Canonical encoding v1: the exact bytes that are hashed (`docs/FORMAT.md`).
//!
//! Integers are 8-byte big-endian (`retval` as i64; `pid`, `tgid`, `uid`, `gid` widened to
//! u64); strings are a 4-byte big-endian byte length followed by their UTF-8 bytes.

use sha2::{Digest, Sha256};

use crate::hash::Hash32;
use crate::model::{BatchHeader, Event};

pub const EVENT_TAG: &[u8] = b"CONANCHOR-EVENT-V1";
pub const BATCH_TAG: &[u8] = b"CONANCHOR-BATCH-V1";
/// Domain-separation prefix of a Merkle leaf (RFC 6962).
pub const LEAF_PREFIX: u8 = 0x00;
/// Domain-separation prefix of an interior Merkle node (RFC 6962).
pub const NODE_PREFIX: u8 = 0x01;

/// Borrowed view of an event's fields, so a reader can hash rows without allocating.
#[derive(Debug, Clone, Copy)]
pub struct EventFields<'a> {
    pub global_seq: u64,
    pub container_seq: u64,
    pub timestamp_ns: u64,
    pub event_type: &'a str,
    pub pid: u32,
    pub tgid: u32,
    pub uid: u32,
    pub gid: u32,
    pub comm: &'a str,
    pub path: &'a str,
    pub extra: &'a str,
    pub flags: u64,
    pub retval: i64,
    pub cgroup_id: &'a str,
    pub container_id: &'a str,
    pub container_instance_id: &'a str,
    pub risk: &'a str,
    pub policy: &'a str,
}

impl<'a> From<&'a Event> for EventFields<'a> {
    fn from(e: &'a Event) -> Self {
        EventFields {
            global_seq: e.global_seq,
            container_seq: e.container_seq,
            timestamp_ns: e.timestamp_ns,
            event_type: &e.event_type,
            pid: e.pid,
            tgid: e.tgid,
            uid: e.uid,
            gid: e.gid,
            comm: &e.comm,
            path: &e.path,
            extra: &e.extra,
            flags: e.flags,
            retval: e.retval,
            cgroup_id: &e.cgroup_id,
            container_id: &e.container_id,
            container_instance_id: &e.container_instance_id,
            risk: &e.risk,
            policy: &e.policy,
        }
    }
}

fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Strings longer than 4 GiB cannot occur: events are built from bounded kernel buffers
    // and JSON lines; saturate rather than wrap so such input can never collide silently.
    let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Appends the canonical event bytes to `out`.
pub fn encode_event(e: &EventFields<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(EVENT_TAG);
    put_u64(out, e.global_seq);
    put_u64(out, e.container_seq);
    put_u64(out, e.timestamp_ns);
    put_str(out, e.event_type);
    put_u64(out, u64::from(e.pid));
    put_u64(out, u64::from(e.tgid));
    put_u64(out, u64::from(e.uid));
    put_u64(out, u64::from(e.gid));
    put_str(out, e.comm);
    put_str(out, e.path);
    put_str(out, e.extra);
    put_u64(out, e.flags);
    out.extend_from_slice(&e.retval.to_be_bytes());
    put_str(out, e.cgroup_id);
    put_str(out, e.container_id);
    put_str(out, e.container_instance_id);
    put_str(out, e.risk);
    put_str(out, e.policy);
}

/// `SHA-256(0x00 || canonical_event)`.
pub fn leaf_hash(e: &EventFields<'_>) -> Hash32 {
    let mut buf = Vec::with_capacity(256);
    leaf_hash_with(e, &mut buf)
}

/// Like [`leaf_hash`], reusing `buf` as scratch space (hot paths).
pub fn leaf_hash_with(e: &EventFields<'_>, buf: &mut Vec<u8>) -> Hash32 {
    buf.clear();
    buf.push(LEAF_PREFIX);
    encode_event(e, buf);
    Hash32(Sha256::digest(buf.as_slice()).into())
}

/// The canonical batch bytes (`container_batch_hash` is their SHA-256).
pub fn encode_batch(b: &BatchHeader) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(BATCH_TAG);
    put_str(&mut out, &b.container_instance_id);
    for v in [
        b.container_batch_id,
        b.first_container_seq,
        b.last_container_seq,
        b.first_global_seq,
        b.last_global_seq,
        b.event_count,
        b.dropped_event_count,
        b.start_time_ns,
        b.end_time_ns,
    ] {
        put_u64(&mut out, v);
    }
    out.extend_from_slice(b.previous_container_batch_hash.as_bytes());
    out.extend_from_slice(b.merkle_root.as_bytes());
    put_str(&mut out, &b.collector_id);
    out
}
