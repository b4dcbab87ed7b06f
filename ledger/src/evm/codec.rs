//! Reading canonical batch bytes (evidence format v1) back into a [`BatchHeader`]: the
//! registry logs exactly the bytes whose SHA-256 is `container_batch_hash`.

use conanchor_store::encoding::BATCH_TAG;
use conanchor_store::{BatchHeader, Hash32};

/// Decodes canonical batch bytes. `container_batch_hash` is their SHA-256. The input must be
/// exactly one batch: a short, long or mis-tagged input is an error naming what is wrong.
pub fn decode_canonical_batch(bytes: &[u8]) -> Result<BatchHeader, String> {
    let mut r = Reader { bytes, pos: 0 };
    if r.take(BATCH_TAG.len())? != BATCH_TAG {
        return Err("does not start with CONANCHOR-BATCH-V1".into());
    }
    let container_instance_id = r.string("container_instance_id")?;
    let mut ints = [0u64; 9];
    for v in &mut ints {
        *v = r.u64()?;
    }
    let previous_container_batch_hash = r.hash()?;
    let merkle_root = r.hash()?;
    let collector_id = r.string("collector_id")?;
    if r.pos != bytes.len() {
        return Err(format!("{} bytes after the batch", bytes.len() - r.pos));
    }
    let [container_batch_id, first_container_seq, last_container_seq, first_global_seq, last_global_seq, event_count, dropped_event_count, start_time_ns, end_time_ns] =
        ints;
    Ok(BatchHeader {
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
        container_batch_hash: Hash32::sha256(bytes),
        collector_id,
    })
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.bytes.len());
        let Some(end) = end else {
            return Err(format!(
                "truncated: needs {n} bytes at offset {}, has {}",
                self.pos,
                self.bytes.len() - self.pos
            ));
        };
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u64(&mut self) -> Result<u64, String> {
        let b = self.take(8)?;
        Ok(u64::from_be_bytes(b.try_into().map_err(|_| "u64")?))
    }

    fn hash(&mut self) -> Result<Hash32, String> {
        Hash32::from_slice(self.take(32)?).ok_or_else(|| "hash".to_string())
    }

    fn string(&mut self, field: &str) -> Result<String, String> {
        let len = self.take(4)?;
        let len = u32::from_be_bytes(len.try_into().map_err(|_| "length")?) as usize;
        let raw = self.take(len)?;
        String::from_utf8(raw.to_vec()).map_err(|_| format!("{field} is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conanchor_store::encoding::encode_batch;

    fn header() -> BatchHeader {
        let mut h = BatchHeader {
            container_instance_id: "cri-containerd-abc123".into(),
            container_batch_id: 7,
            first_container_seq: 61,
            last_container_seq: 70,
            first_global_seq: 600,
            last_global_seq: 700,
            event_count: 10,
            dropped_event_count: 2,
            start_time_ns: 1_710_000_000_000_000_000,
            end_time_ns: 1_710_000_000_500_000_000,
            previous_container_batch_hash: Hash32::sha256(b"prev"),
            merkle_root: Hash32::sha256(b"root"),
            container_batch_hash: Hash32::ZERO,
            collector_id: "collector-1".into(),
        };
        h.container_batch_hash = h.compute_hash();
        h
    }

    #[test]
    fn round_trips_the_canonical_bytes() {
        let h = header();
        let bytes = encode_batch(&h);
        let back = decode_canonical_batch(&bytes).unwrap();
        assert_eq!(back, h);
        assert_eq!(encode_batch(&back), bytes);
    }

    #[test]
    fn rejects_truncated_extended_and_mistagged_input() {
        let bytes = encode_batch(&header());
        for cut in [0, 10, 18, 30, bytes.len() - 1] {
            assert!(
                decode_canonical_batch(&bytes[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        let mut long = bytes.clone();
        long.push(0);
        assert!(decode_canonical_batch(&long)
            .unwrap_err()
            .contains("after the batch"));
        let mut tag = bytes.clone();
        tag[0] = b'X';
        assert!(decode_canonical_batch(&tag).is_err());
        let mut huge = bytes;
        huge[18..22].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(decode_canonical_batch(&huge)
            .unwrap_err()
            .contains("truncated"));
    }
}
