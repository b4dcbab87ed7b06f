//! What the attacks do to content, independent of where it is stored.

use anyhow::{bail, Result};
use conanchor_store::{merkle_root, Batch, Event, Hash32};

/// The visible edit `modify-log` and `forge-batch` make: the event's `path`.
pub fn tampered(ev: &Event) -> Event {
    let mut out = ev.clone();
    out.path = if ev.path.is_empty() {
        "[tampered]".to_string()
    } else {
        format!("{} [tampered]", ev.path)
    };
    out
}

/// The forged event `insert-log` adds: a duplicate of `ev`'s sequence numbers with
/// harmless-looking content.
pub fn forged(ev: &Event) -> Event {
    let mut out = ev.clone();
    out.event_type = "exec".to_string();
    out.comm = "sh".to_string();
    out.path = "/bin/sh".to_string();
    out.extra = "forged by the attack lab".to_string();
    out.risk = "low".to_string();
    out.policy = "none".to_string();
    out
}

/// The anchor edit `tamper-ledger` makes: a different Merkle root.
pub fn tampered_root(root: &Hash32) -> Hash32 {
    let mut data = b"conanchor tamper-ledger ".to_vec();
    data.extend_from_slice(root.as_bytes());
    Hash32::sha256(&data)
}

/// Rewrites `batches[0]`'s leaf for `seq` to `new_leaf`, its Merkle root
/// and batch hash, then re-chains every following batch, as an attacker with write access
/// to the whole store would. `batches` are consecutive, starting at the forged batch.
pub fn forge_chain(batches: &mut [Batch], seq: u64, new_leaf: Hash32) -> Result<()> {
    let Some(first) = batches.first_mut() else {
        bail!("no batch to forge");
    };
    let Some(tag) = first.log_tags.iter_mut().find(|t| t.container_seq == seq) else {
        bail!(
            "batch {}: its leaf list has no leaf for container_seq {seq}",
            first.header.container_batch_id
        );
    };
    tag.hash = new_leaf;
    let leaves: Vec<Hash32> = first.log_tags.iter().map(|t| t.hash).collect();
    first.header.merkle_root = merkle_root(&leaves).unwrap_or(first.header.merkle_root);
    first.header.container_batch_hash = first.header.compute_hash();
    let mut prev = first.header.container_batch_hash;
    for b in batches.iter_mut().skip(1) {
        b.header.previous_container_batch_hash = prev;
        b.header.container_batch_hash = b.header.compute_hash();
        prev = b.header.container_batch_hash;
    }
    Ok(())
}

/// `name: "before" -> "after"` for the fields that differ, for the printed description.
pub fn describe_change(before: &Event, after: &Event) -> String {
    crate::diff::event_field_changes(before, after)
        .iter()
        .map(|f| format!("{}: {:?} -> {:?}", f.name, f.anchored, f.stored))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The one-line descriptions every target gives its attacks.
pub mod says {
    use conanchor_store::Event;

    pub fn modified(seq: u64, batch_id: u64, cid: &str, change: &str) -> String {
        format!("modified container_seq {seq} in batch {batch_id} of {cid}: {change}")
    }

    pub fn deleted(ev: &Event, seq: u64, batch_id: u64, cid: &str) -> String {
        format!(
            "deleted container_seq {seq} ({} {} {:?}) from batch {batch_id} of {cid}",
            ev.event_type, ev.comm, ev.path
        )
    }

    pub fn inserted(forged: &Event, seq: u64, batch_id: u64, cid: &str) -> String {
        format!(
            "inserted a forged event ({} {} {:?}, {:?}) with the duplicate container_seq {seq} into batch {batch_id} of {cid}",
            forged.event_type, forged.comm, forged.path, forged.extra
        )
    }

    pub fn ledger_edited(batch_id: u64, cid: &str, detail: &str) -> String {
        format!("edited the mock chain's anchor of batch {batch_id} of {cid}: {detail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use conanchor_store::{BatchHeader, LogTagRef};

    fn batch(id: u64, leaves: &[Hash32], prev: Hash32) -> Batch {
        let tags: Vec<LogTagRef> = leaves
            .iter()
            .enumerate()
            .map(|(i, h)| LogTagRef {
                global_seq: i as u64 + 1,
                container_seq: (id - 1) * 2 + i as u64 + 1,
                hash: *h,
            })
            .collect();
        let mut header = BatchHeader {
            container_instance_id: "c".into(),
            container_batch_id: id,
            first_container_seq: tags[0].container_seq,
            last_container_seq: tags[tags.len() - 1].container_seq,
            first_global_seq: 1,
            last_global_seq: 2,
            event_count: tags.len() as u64,
            dropped_event_count: 0,
            start_time_ns: 1,
            end_time_ns: 2,
            previous_container_batch_hash: prev,
            merkle_root: merkle_root(leaves).unwrap(),
            container_batch_hash: Hash32::ZERO,
            collector_id: "x".into(),
        };
        header.container_batch_hash = header.compute_hash();
        Batch::from_parts(header, &tags)
    }

    #[test]
    fn forged_chain_is_internally_consistent() {
        let l: Vec<Hash32> = (0..4u8).map(|i| Hash32::sha256(&[i])).collect();
        let b1 = batch(1, &l[..2], Hash32::ZERO);
        let b2 = batch(2, &l[2..], b1.header.container_batch_hash);
        let mut chain = vec![b1.clone(), b2.clone()];
        let new = Hash32::sha256(b"new");
        forge_chain(&mut chain, 1, new).unwrap();
        assert_ne!(chain[0].header.merkle_root, b1.header.merkle_root);
        assert_eq!(
            chain[0].header.merkle_root,
            merkle_root(&[new, l[1]]).unwrap()
        );
        for b in &chain {
            assert_eq!(b.header.compute_hash(), b.header.container_batch_hash);
        }
        assert_eq!(
            chain[1].header.previous_container_batch_hash,
            chain[0].header.container_batch_hash
        );
        assert!(
            forge_chain(&mut chain, 9, new).is_err(),
            "seq 9 is not in batch 1"
        );
    }
}
