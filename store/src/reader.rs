//! Read access to evidence, whether it lives in SQLite or in an exported directory.

use std::path::Path;

use crate::error::Result;
use crate::hash::Hash32;
use crate::model::{Batch, Event};

/// An event's leaf hash recomputed from its stored content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeafRow {
    pub container_seq: u64,
    pub global_seq: u64,
    pub timestamp_ns: u64,
    pub hash: Hash32,
}

/// What the verifier needs from stored evidence. Implemented by [`crate::Store`] and
/// [`crate::ExportDir`]. Outer errors mean "could not read at all" (exit 2); a batch that
/// exists but cannot be parsed is `Some(Err(reason))`, which verification reports as
/// `LOG_LOAD_FAILED`.
pub trait EvidenceReader {
    /// `"sqlite"` or `"export"`.
    fn kind(&self) -> &'static str;
    fn location(&self) -> &Path;
    /// Every container instance with stored events or batches, sorted.
    fn container_ids(&mut self) -> Result<Vec<String>>;
    fn batch(
        &mut self,
        cid: &str,
        batch_id: u64,
    ) -> Result<Option<std::result::Result<Batch, String>>>;
    /// Ids of the stored batches of a container, ascending.
    fn batch_ids(&mut self, cid: &str) -> Result<Vec<u64>>;
    /// Leaf hashes recomputed from the stored events with `first <= container_seq <= last`,
    /// in storage order (SQLite row order, JSONL line order), duplicates kept. Storage order
    /// is what the verifier hashes, so moving an event is detected even when its content
    /// is intact.
    fn leaves_in_range(&mut self, cid: &str, first: u64, last: u64) -> Result<Vec<LeafRow>>;
    /// The events of [`EvidenceReader::leaves_in_range`], in the same order.
    fn events_in_range(&mut self, cid: &str, first: u64, last: u64) -> Result<Vec<Event>>;
    /// Stored records of the container that could not be parsed (e.g. a JSONL line that is
    /// not JSON), each as a one-line description.
    fn load_problems(&mut self, cid: &str) -> Result<Vec<String>>;
    /// Sealed batches that the store says are still waiting for the ledger.
    fn pending_batch_ids(&mut self, cid: &str) -> Result<Vec<u64>>;
    /// Events stored after the last sealed batch.
    fn unsealed_count(&mut self, cid: &str) -> Result<u64>;
    /// Kernel drops recorded for the container's open batch, not anchored yet (they are
    /// anchored with its next batch). Exports have none.
    fn pending_drops(&mut self, _cid: &str) -> Result<u64> {
        Ok(0)
    }
    /// Streams every stored event's recomputed leaf, all containers, in storage order, in
    /// one sequential pass (much faster than per-batch look-ups when containers
    /// interleave). The callback gets the container's index in this pass (dense, stable for
    /// the pass), its id and the leaf. Returns `false` when the reader has no such pass.
    fn scan_leaves(&mut self, f: &mut dyn FnMut(usize, &str, &LeafRow)) -> Result<bool> {
        let _ = f;
        Ok(false)
    }
}
