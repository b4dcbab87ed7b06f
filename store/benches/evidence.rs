//! Criterion benchmarks of the evidence hot paths: leaf hashing, Merkle roots, decoding,
//! and the verifier's scan of a SQLite store. `cargo bench -p conanchor-store` (or
//! `make bench-criterion`); the end-to-end figures come from `conanchor-tui bench`.

use std::hint::black_box;

use conanchor_store::encoding::{
    canonical_event, decode_event, leaf_hash_of_canonical, leaf_hash_with, EventFields,
};
use conanchor_store::sqlite::{CommitSet, ContainerRow, StoredEvent};
use conanchor_store::{merkle_root, Event, EvidenceReader, Hash32, MerkleAccumulator, Store};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

const CONTAINERS: u64 = 10;

/// A synthetic event shaped like the generator's (about 290 canonical bytes).
fn event(i: u64) -> Event {
    let c = i % CONTAINERS;
    Event {
        global_seq: i + 1,
        container_seq: i / CONTAINERS + 1,
        timestamp_ns: 1_764_800_000_000_000_000 + i * 1_000,
        event_type: "file_open".into(),
        pid: 4_000 + (i % 500) as u32,
        tgid: 4_000 + (i % 500) as u32,
        uid: 0,
        gid: 0,
        comm: "cat".into(),
        path: "/var/run/secrets/kubernetes.io/serviceaccount/token".into(),
        extra: String::new(),
        flags: 0,
        retval: 0,
        cgroup_id: (50_000 + c).to_string(),
        container_id: format!("cri-containerd-{c:064x}"),
        container_instance_id: format!("cri-containerd-{c:064x}"),
        risk: "high".into(),
        policy: "service-account-secret-read".into(),
    }
}

fn hashing(c: &mut Criterion) {
    let e = event(7);
    let bytes = canonical_event(&e);
    let mut buf = Vec::with_capacity(512);
    let mut g = c.benchmark_group("leaf");
    g.throughput(Throughput::Elements(1));
    g.bench_function("encode+hash", |b| {
        b.iter(|| leaf_hash_with(&EventFields::from(black_box(&e)), &mut buf))
    });
    g.bench_function("hash stored bytes", |b| {
        b.iter(|| leaf_hash_of_canonical(black_box(&bytes), &mut buf))
    });
    g.bench_function("decode", |b| b.iter(|| decode_event(black_box(&bytes))));
    g.finish();

    let leaves: Vec<Hash32> = (0..1000).map(|i| event(i).leaf_hash()).collect();
    let mut g = c.benchmark_group("merkle 1000 leaves");
    g.throughput(Throughput::Elements(leaves.len() as u64));
    g.bench_function("tree root", |b| b.iter(|| merkle_root(black_box(&leaves))));
    g.bench_function("streaming accumulator", |b| {
        b.iter(|| {
            let mut acc = MerkleAccumulator::new();
            for l in &leaves {
                acc.push(l);
            }
            acc.root()
        })
    });
    g.finish();
}

/// A store holding `n` events over [`CONTAINERS`] containers, written in one commit.
fn store_with(n: u64) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::create(dir.path()).unwrap();
    let mut set = CommitSet {
        next_global_seq: n + 1,
        ..CommitSet::default()
    };
    for c in 0..CONTAINERS {
        let e = event(c);
        set.containers.push(ContainerRow {
            key: c as i64 + 1,
            container_instance_id: e.container_instance_id.clone(),
            container_id: e.container_id.clone(),
            cgroup_id: e.cgroup_id.clone(),
            next_container_seq: n / CONTAINERS + 2,
            next_batch_id: 1,
            last_batch_hash: Hash32::ZERO,
            open_dropped: 0,
            first_seen_ns: 0,
            last_seen_ns: 0,
        });
    }
    set.events = (0..n)
        .map(|i| StoredEvent::new((i % CONTAINERS) as i64 + 1, event(i)))
        .collect();
    store.commit(&set).unwrap();
    (dir, store)
}

fn scan(c: &mut Criterion) {
    const N: u64 = 100_000;
    let (_dir, mut store) = store_with(N);
    let mut g = c.benchmark_group("sqlite scan");
    g.throughput(Throughput::Elements(N));
    g.sample_size(10);
    g.bench_function("100k events: read + leaf hash", |b| {
        b.iter_batched(
            || 0u64,
            |mut seen| {
                store
                    .scan_leaves(&mut |_, _, leaf| seen ^= leaf.hash.0[0] as u64)
                    .unwrap();
                seen
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

criterion_group!(benches, hashing, scan);
criterion_main!(benches);
