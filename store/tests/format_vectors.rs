//! The test vectors printed in docs/FORMAT.md, recomputed. The document is parsed, so the
//! document and the code cannot drift apart silently.

use conanchor_store::{merkle_root, BatchHeader, Event, Hash32};

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/FORMAT.md");
    std::fs::read_to_string(path).expect("docs/FORMAT.md is readable")
}

/// The value after `key` on the line that starts with `key` (inside the vectors block).
fn doc_value(doc: &str, key: &str) -> String {
    doc.lines()
        .find_map(|l| l.trim().strip_prefix(key).map(|v| v.trim().to_string()))
        .unwrap_or_else(|| panic!("docs/FORMAT.md has no line starting with {key:?}"))
}

/// The seed's sample event, with sequence numbers `i`.
pub fn vector_event(i: u64) -> Event {
    Event {
        global_seq: i,
        container_seq: i,
        timestamp_ns: 1_710_000_000_000_000_000 + i - 1,
        event_type: "exec".into(),
        pid: 1234,
        tgid: 1234,
        uid: 0,
        gid: 0,
        comm: "wget".into(),
        path: "/usr/bin/wget".into(),
        extra: String::new(),
        flags: 0,
        retval: 0,
        cgroup_id: "123456789".into(),
        container_id: "cri-containerd-abc123".into(),
        container_instance_id: "cri-containerd-abc123".into(),
        risk: "high".into(),
        policy: "wget-exec".into(),
    }
}

fn leaves(n: u64) -> Vec<Hash32> {
    (1..=n).map(|i| vector_event(i).leaf_hash()).collect()
}

fn vector_batch() -> BatchHeader {
    let mut b = BatchHeader {
        container_instance_id: "cri-containerd-abc123".into(),
        container_batch_id: 1,
        first_container_seq: 1,
        last_container_seq: 3,
        first_global_seq: 1,
        last_global_seq: 3,
        event_count: 3,
        dropped_event_count: 0,
        start_time_ns: 1_710_000_000_000_000_000,
        end_time_ns: 1_710_000_000_000_000_002,
        previous_container_batch_hash: Hash32::ZERO,
        merkle_root: merkle_root(&leaves(3)).unwrap(),
        container_batch_hash: Hash32::ZERO,
        collector_id: "collector-1".into(),
    };
    b.container_batch_hash = b.compute_hash();
    b
}

#[test]
fn event_canonical_bytes_and_leaf_hash() {
    let d = doc();
    let e = vector_event(1);
    assert_eq!(
        hex::encode(e.canonical_bytes()),
        doc_value(&d, "canonical_event_hex:")
    );
    assert_eq!(e.leaf_hash().to_hex(), doc_value(&d, "leaf_hash:"));
}

#[test]
fn merkle_roots() {
    let d = doc();
    for n in [1u64, 2, 3, 5, 8] {
        let root = merkle_root(&leaves(n)).unwrap();
        assert_eq!(
            root.to_hex(),
            doc_value(&d, &format!("root_{n}:")),
            "{n} events"
        );
    }
}

#[test]
fn batch_hash() {
    let d = doc();
    let b = vector_batch();
    assert_eq!(
        hex::encode(conanchor_store::encoding::encode_batch(&b)),
        doc_value(&d, "canonical_batch_hex:")
    );
    assert_eq!(
        b.container_batch_hash.to_hex(),
        doc_value(&d, "container_batch_hash:")
    );
}

/// `CONANCHOR_PRINT_VECTORS=1 cargo test -p conanchor-store --test format_vectors -- --nocapture`
/// prints the vectors in the document's syntax.
#[test]
fn print_vectors() {
    if std::env::var_os("CONANCHOR_PRINT_VECTORS").is_none() {
        return;
    }
    let e = vector_event(1);
    println!("canonical_event_hex: {}", hex::encode(e.canonical_bytes()));
    println!("leaf_hash: {}", e.leaf_hash());
    for n in [1u64, 2, 3, 5, 8] {
        println!("root_{n}: {}", merkle_root(&leaves(n)).unwrap());
    }
    let b = vector_batch();
    println!(
        "canonical_batch_hex: {}",
        hex::encode(conanchor_store::encoding::encode_batch(&b))
    );
    println!("container_batch_hash: {}", b.container_batch_hash);
}
