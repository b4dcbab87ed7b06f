//! ConAnchor's evidence store: the event and batch model, canonical encoding v1, leaf hashes,
//! RFC 6962 Merkle batches chained by hash, the SQLite store and the seed's JSONL layout.
//!
//! The exact byte format is specified in `docs/FORMAT.md`; `tests/format_vectors.rs` checks
//! the vectors printed there.

pub mod encoding;
pub mod error;
pub mod export;
pub mod hash;
pub mod merkle;
pub mod model;
pub mod reader;
pub mod schema;
pub mod sqlite;
pub mod writer;

pub use error::{check_container_id, Result, StoreError};
pub use export::{is_export_dir, ExportDir, TransferSummary};
pub use hash::Hash32;
pub use merkle::{inclusion_proof, merkle_root, verify_inclusion, MerkleAccumulator};
pub use model::{AnchorRecord, AnchorState, Batch, BatchHeader, Event, LogTag, LogTagRef};
pub use reader::{EvidenceReader, LeafRow};
/// Re-exported because [`Store::connection`] hands out a raw connection (the attack lab).
pub use rusqlite;
pub use sqlite::{AnchoredItem, Store, StoreStats, DB_FILE};
pub use writer::{CommitStats, Writer, WriterConfig};

/// Opens whatever evidence `dir` holds: the SQLite store when `conanchor.db` is there,
/// otherwise an exported directory.
pub fn open_evidence(dir: &std::path::Path) -> Result<Box<dyn EvidenceReader>> {
    if !dir.exists() {
        return Err(StoreError::NotFound {
            path: dir.to_path_buf(),
        });
    }
    if Store::exists_in(dir) {
        return Ok(Box::new(Store::open_existing(dir)?));
    }
    Ok(Box::new(ExportDir::open(dir)?))
}
