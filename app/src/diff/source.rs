//! Where original content comes from: the attack journal (in `crate::attack::journal`) or
//! another copy of the evidence.

use std::path::{Path, PathBuf};

use anyhow::Result;
use conanchor_store::{open_evidence, BatchHeader, Event, EvidenceReader, LogTagRef};

use super::SourceKind;

/// A source of original content to show beside tampered rows.
pub trait OriginalSource {
    fn label(&self) -> String;
    fn kind(&self) -> SourceKind;
    /// The original events it knows with `first <= container_seq <= last` (any order).
    fn original_events(&mut self, cid: &str, first: u64, last: u64) -> Result<Vec<Event>>;
    /// Its leaf list of the batch, when it has one.
    fn original_leaf_list(&mut self, cid: &str, batch_id: u64) -> Result<Option<Vec<LogTagRef>>>;
    /// The anchor record as it was, when it knows (the journal of a ledger edit).
    fn original_anchor(&mut self, _cid: &str, _batch_id: u64) -> Result<Option<BatchHeader>> {
        Ok(None)
    }
}

/// Another copy of the evidence (an export or a data dir) as the source of originals.
pub struct CopySource {
    reader: Box<dyn EvidenceReader>,
    label: String,
}

impl CopySource {
    pub fn open(dir: &Path) -> Result<CopySource> {
        let reader = open_evidence(dir)?;
        let what = if reader.kind() == "sqlite" {
            "store"
        } else {
            "export"
        };
        Ok(CopySource {
            label: format!("{what} at {}", dir.display()),
            reader,
        })
    }

    pub fn location(&self) -> PathBuf {
        self.reader.location().to_path_buf()
    }
}

impl OriginalSource for CopySource {
    fn label(&self) -> String {
        self.label.clone()
    }

    fn kind(&self) -> SourceKind {
        SourceKind::Copy
    }

    fn original_events(&mut self, cid: &str, first: u64, last: u64) -> Result<Vec<Event>> {
        Ok(self.reader.events_in_range(cid, first, last)?)
    }

    fn original_leaf_list(&mut self, cid: &str, batch_id: u64) -> Result<Option<Vec<LogTagRef>>> {
        Ok(match self.reader.batch(cid, batch_id)? {
            Some(Ok(b)) => Some(b.tag_refs()),
            _ => None,
        })
    }
}
