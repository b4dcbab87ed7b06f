//! Canonical encoding v1: the exact bytes that are hashed (`docs/FORMAT.md`).
//!
//! Integers are 8-byte big-endian (`retval` as i64; `pid`, `tgid`, `uid`, `gid` widened to
//! u64); strings are a 4-byte big-endian byte length followed by their UTF-8 bytes.

use crate::hash::{sha256_padded, Hash32};
use crate::model::{BatchHeader, Event};

pub const EVENT_TAG: &[u8] = b"CONANCHOR-EVENT-V1";
pub const BATCH_TAG: &[u8] = b"CONANCHOR-BATCH-V1";
/// Byte offsets of the fixed-position fields of a canonical event.
pub const GLOBAL_SEQ_AT: usize = EVENT_TAG.len();
pub const CONTAINER_SEQ_AT: usize = GLOBAL_SEQ_AT + 8;
pub const TIMESTAMP_AT: usize = CONTAINER_SEQ_AT + 8;
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
    sha256_padded(buf)
}

/// The leaf hash of an event stored as its canonical bytes, `SHA-256(0x00 || canonical)`:
/// whatever the bytes are, so a damaged record hashes to something else rather than failing.
pub fn leaf_hash_of_canonical(canonical: &[u8], buf: &mut Vec<u8>) -> Hash32 {
    buf.clear();
    buf.reserve(canonical.len() + 73);
    buf.push(LEAF_PREFIX);
    buf.extend_from_slice(canonical);
    sha256_padded(buf)
}

/// The canonical bytes of an event (what the SQLite store keeps).
pub fn canonical_event(e: &Event) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    encode_event(&EventFields::from(e), &mut out);
    out
}

/// The u64 at `at` in canonical bytes, if they are long enough.
pub fn canonical_u64_at(canonical: &[u8], at: usize) -> Option<u64> {
    let b = canonical.get(at..at + 8)?;
    Some(u64::from_be_bytes(b.try_into().ok()?))
}

/// Reads canonical event bytes back into an [`Event`]; the error names the first field
/// that is missing or malformed.
pub fn decode_event(bytes: &[u8]) -> Result<Event, String> {
    let mut r = Decoder { bytes, at: 0 };
    let tag = r.take(EVENT_TAG.len(), "tag")?;
    if tag != EVENT_TAG {
        return Err("does not start with CONANCHOR-EVENT-V1".into());
    }
    let e = Event {
        global_seq: r.u64("global_seq")?,
        container_seq: r.u64("container_seq")?,
        timestamp_ns: r.u64("timestamp_ns")?,
        event_type: r.string("event_type")?,
        pid: r.u32("pid")?,
        tgid: r.u32("tgid")?,
        uid: r.u32("uid")?,
        gid: r.u32("gid")?,
        comm: r.string("comm")?,
        path: r.string("path")?,
        extra: r.string("extra")?,
        flags: r.u64("flags")?,
        retval: r.u64("retval")? as i64,
        cgroup_id: r.string("cgroup_id")?,
        container_id: r.string("container_id")?,
        container_instance_id: r.string("container_instance_id")?,
        risk: r.string("risk")?,
        policy: r.string("policy")?,
    };
    if r.at != bytes.len() {
        return Err(format!("{} bytes after the last field", bytes.len() - r.at));
    }
    Ok(e)
}

struct Decoder<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Decoder<'a> {
    fn take(&mut self, n: usize, name: &str) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!("truncated at {name} (byte {})", self.at));
        };
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn u64(&mut self, name: &str) -> Result<u64, String> {
        let b = self.take(8, name)?;
        Ok(u64::from_be_bytes(
            b.try_into().map_err(|_| name.to_string())?,
        ))
    }

    fn u32(&mut self, name: &str) -> Result<u32, String> {
        let v = self.u64(name)?;
        u32::try_from(v).map_err(|_| format!("{name} {v} does not fit 32 bits"))
    }

    fn string(&mut self, name: &str) -> Result<String, String> {
        let len = self.take(4, name)?;
        let len = u32::from_be_bytes(len.try_into().map_err(|_| name.to_string())?) as usize;
        let b = self.take(len, name)?;
        std::str::from_utf8(b)
            .map(str::to_string)
            .map_err(|_| format!("{name} is not UTF-8"))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Event {
        Event {
            global_seq: 42,
            container_seq: 7,
            timestamp_ns: 1_700_000_000_123_456_789,
            event_type: "exec".into(),
            pid: 4242,
            tgid: 4242,
            uid: 0,
            gid: u32::MAX,
            comm: "wget".into(),
            path: "/usr/bin/wget ünïcode".into(),
            extra: "{\"argv\":[\"wget\"]}".into(),
            flags: u64::MAX,
            retval: -13,
            cgroup_id: "12345".into(),
            container_id: "c".repeat(64),
            container_instance_id: "pod/ns/c#1".into(),
            risk: "high".into(),
            policy: "wget-exec".into(),
        }
    }

    #[test]
    fn canonical_bytes_decode_back() {
        let e = sample();
        let c = canonical_event(&e);
        assert_eq!(decode_event(&c).unwrap(), e);
        assert_eq!(canonical_u64_at(&c, GLOBAL_SEQ_AT), Some(42));
        assert_eq!(canonical_u64_at(&c, CONTAINER_SEQ_AT), Some(7));
        assert_eq!(canonical_u64_at(&c, TIMESTAMP_AT), Some(e.timestamp_ns));
        let mut buf = Vec::new();
        assert_eq!(leaf_hash_of_canonical(&c, &mut buf), e.leaf_hash());
    }

    #[test]
    fn damaged_bytes_are_named_not_panicked_on() {
        let c = canonical_event(&sample());
        for cut in 0..c.len() {
            assert!(decode_event(&c[..cut]).is_err(), "cut at {cut}");
        }
        let mut long = c.clone();
        long.push(0);
        assert!(decode_event(&long)
            .unwrap_err()
            .contains("after the last field"));
        let mut wide = c.clone();
        // pid's high bytes: event_type is "exec" (4 + 4 bytes) after the three u64s.
        wide[TIMESTAMP_AT + 8 + 8] = 1;
        assert!(decode_event(&wide).unwrap_err().contains("pid"));
        let mut tag = c;
        tag[0] = b'X';
        assert!(decode_event(&tag).is_err());
        assert_eq!(canonical_u64_at(&[0u8; 20], CONTAINER_SEQ_AT), None);
    }
}
