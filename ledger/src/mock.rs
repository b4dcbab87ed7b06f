//! The mock chain: a local, hash-chained, append-only JSONL file, one block per anchor.
//!
//! `block_hash = SHA-256("CONANCHOR-BLOCK-V1" || height u64 BE || timestamp_ns u64 BE ||
//! previous_block_hash (32 bytes) || u32 BE length || canonical_batch || container_batch_hash
//! (32 bytes))`. The first block has height 1 and a zero previous hash. Appends are
//! serialized across processes with an exclusive file lock and fsynced.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use conanchor_store::encoding::encode_batch;
use conanchor_store::{AnchorRecord, BatchHeader, Hash32};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{AnchorReceipt, ChainCheck, Ledger, LedgerError, LedgerStatus};

pub const BLOCK_TAG: &[u8] = b"CONANCHOR-BLOCK-V1";
/// Where the mock chain lives inside a data dir.
pub const MOCK_CHAIN_FILE: &str = "ledger/mock_chain.jsonl";

/// One line of `mock_chain.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    pub height: u64,
    pub timestamp_ns: u64,
    pub previous_block_hash: Hash32,
    pub block_hash: Hash32,
    pub anchor: BatchHeader,
}

impl Block {
    pub fn compute_hash(&self) -> Hash32 {
        block_hash(
            self.height,
            self.timestamp_ns,
            &self.previous_block_hash,
            &self.anchor,
        )
    }

    pub fn record(&self) -> AnchorRecord {
        AnchorRecord {
            header: self.anchor.clone(),
            tx_id: Some(self.block_hash.to_hex()),
            block_height: Some(self.height),
        }
    }
}

pub fn block_hash(height: u64, timestamp_ns: u64, prev: &Hash32, anchor: &BatchHeader) -> Hash32 {
    let batch = encode_batch(anchor);
    let mut h = Sha256::new();
    h.update(BLOCK_TAG);
    h.update(height.to_be_bytes());
    h.update(timestamp_ns.to_be_bytes());
    h.update(prev.as_bytes());
    h.update((u32::try_from(batch.len()).unwrap_or(u32::MAX)).to_be_bytes());
    h.update(&batch);
    h.update(anchor.container_batch_hash.as_bytes());
    Hash32(h.finalize().into())
}

#[derive(Default)]
struct State {
    blocks: Vec<Block>,
    problems: Vec<String>,
    /// container -> batch id -> index into `blocks` (the first block that anchored it).
    index: BTreeMap<String, BTreeMap<u64, usize>>,
    /// Bytes of the file consumed so far (whole lines only).
    consumed: u64,
    lines: u64,
    /// The hash the next block must chain from (the last line's stated hash).
    tip: Hash32,
    tip_height: u64,
}

impl State {
    fn ingest_line(&mut self, line: &[u8]) {
        self.lines += 1;
        let n = self.lines;
        let block = match serde_json::from_slice::<Block>(line) {
            Ok(b) => b,
            Err(e) => {
                self.problems
                    .push(format!("mock chain line {n} is not a block: {e}"));
                return;
            }
        };
        if block.height != self.tip_height + 1 {
            self.problems.push(format!(
                "mock chain line {n}: height {} follows height {}",
                block.height, self.tip_height
            ));
        }
        if block.previous_block_hash != self.tip {
            self.problems.push(format!(
                "mock chain line {n} (height {}): previous_block_hash {} does not match the previous block's hash {}",
                block.height,
                block.previous_block_hash.short(),
                self.tip.short()
            ));
        }
        let computed = block.compute_hash();
        if computed != block.block_hash {
            self.problems.push(format!(
                "mock chain line {n} (height {}): block_hash {} does not match its content (recomputed {})",
                block.height,
                block.block_hash.short(),
                computed.short()
            ));
        }
        self.tip = block.block_hash;
        self.tip_height = block.height;
        let idx = self.blocks.len();
        self.index
            .entry(block.anchor.container_instance_id.clone())
            .or_default()
            .entry(block.anchor.container_batch_id)
            .or_insert(idx);
        self.blocks.push(block);
    }
}

/// The local hash-chained mock ledger.
pub struct MockChain {
    path: PathBuf,
    state: Mutex<State>,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl MockChain {
    /// Opens the chain at `path` (`<data-dir>/ledger/mock_chain.jsonl`), creating its
    /// directory; a missing file is an empty chain.
    pub fn open(path: &Path) -> Result<MockChain, LedgerError> {
        let chain = MockChain {
            path: path.to_path_buf(),
            state: Mutex::new(State::default()),
        };
        chain.refresh()?;
        Ok(chain)
    }

    /// The chain file inside a data dir.
    pub fn path_in(data_dir: &Path) -> PathBuf {
        data_dir.join(MOCK_CHAIN_FILE)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, e: std::io::Error) -> LedgerError {
        LedgerError::Io {
            path: self.path.clone(),
            source: e,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves a consistent prefix; keep using it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads lines appended since the last read (all of them if the file shrank).
    fn refresh(&self) -> Result<(), LedgerError> {
        let mut st = self.lock();
        self.refresh_locked(&mut st)
    }

    fn refresh_locked(&self, st: &mut State) -> Result<(), LedgerError> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                *st = State::default();
                return Ok(());
            }
            Err(e) => return Err(self.io(e)),
        };
        let len = file.metadata().map_err(|e| self.io(e))?.len();
        if len < st.consumed {
            *st = State::default();
        }
        if len == st.consumed {
            return Ok(());
        }
        file.seek(SeekFrom::Start(st.consumed))
            .map_err(|e| self.io(e))?;
        let mut buf = Vec::with_capacity((len - st.consumed) as usize);
        file.read_to_end(&mut buf).map_err(|e| self.io(e))?;
        let mut start = 0;
        while let Some(pos) = buf[start..].iter().position(|&b| b == b'\n') {
            let line = &buf[start..start + pos];
            if !line.iter().all(u8::is_ascii_whitespace) {
                st.ingest_line(line);
            } else {
                st.lines += 1;
            }
            start += pos + 1;
        }
        st.consumed += start as u64;
        Ok(())
    }

    /// Every block, for the TUI and the attack lab.
    pub fn blocks(&self) -> Result<Vec<Block>, LedgerError> {
        self.refresh()?;
        Ok(self.lock().blocks.clone())
    }

    /// Appends blocks for `batches`, under an exclusive lock shared with other processes.
    fn append(&self, batches: &[BatchHeader]) -> Result<Vec<AnchorReceipt>, LedgerError> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(|e| self.io(e))?;
        file.lock().map_err(|e| self.io(e))?;
        let mut st = self.lock();
        self.refresh_locked(&mut st)?;
        let mut receipts = Vec::with_capacity(batches.len());
        let mut new_blocks: Vec<Block> = Vec::new();
        for b in batches {
            let existing = st
                .index
                .get(&b.container_instance_id)
                .and_then(|m| m.get(&b.container_batch_id))
                .map(|&i| &st.blocks[i])
                .or_else(|| {
                    new_blocks.iter().find(|n| {
                        n.anchor.container_instance_id == b.container_instance_id
                            && n.anchor.container_batch_id == b.container_batch_id
                    })
                });
            if let Some(block) = existing {
                if block.anchor.container_batch_hash != b.container_batch_hash {
                    return Err(LedgerError::Conflict {
                        container_instance_id: b.container_instance_id.clone(),
                        container_batch_id: b.container_batch_id,
                        existing: block.anchor.container_batch_hash.to_hex(),
                        offered: b.container_batch_hash.to_hex(),
                    });
                }
                receipts.push(AnchorReceipt {
                    container_instance_id: b.container_instance_id.clone(),
                    container_batch_id: b.container_batch_id,
                    tx_id: block.block_hash.to_hex(),
                    block_height: block.height,
                });
                continue;
            }
            let (prev, height) = new_blocks
                .last()
                .map(|b| (b.block_hash, b.height))
                .unwrap_or((st.tip, st.tip_height));
            let timestamp_ns = now_ns();
            let height = height + 1;
            let block = Block {
                height,
                timestamp_ns,
                previous_block_hash: prev,
                block_hash: block_hash(height, timestamp_ns, &prev, b),
                anchor: b.clone(),
            };
            receipts.push(AnchorReceipt {
                container_instance_id: b.container_instance_id.clone(),
                container_batch_id: b.container_batch_id,
                tx_id: block.block_hash.to_hex(),
                block_height: height,
            });
            new_blocks.push(block);
        }
        if !new_blocks.is_empty() {
            let mut out = Vec::with_capacity(new_blocks.len() * 700);
            for block in &new_blocks {
                serde_json::to_writer(&mut out, block)
                    .map_err(|e| LedgerError::Other(e.to_string()))?;
                out.push(b'\n');
            }
            file.write_all(&out).map_err(|e| self.io(e))?;
            file.sync_data().map_err(|e| self.io(e))?;
            self.refresh_locked(&mut st)?;
        }
        drop(st);
        file.unlock().map_err(|e| self.io(e))?;
        Ok(receipts)
    }
}

#[async_trait]
impl Ledger for MockChain {
    fn backend(&self) -> &'static str {
        "mock"
    }

    async fn anchor(&self, batches: &[BatchHeader]) -> Result<Vec<AnchorReceipt>, LedgerError> {
        self.append(batches)
    }

    async fn get_anchor(
        &self,
        cid: &str,
        batch_id: u64,
    ) -> Result<Option<AnchorRecord>, LedgerError> {
        self.refresh()?;
        let st = self.lock();
        Ok(st
            .index
            .get(cid)
            .and_then(|m| m.get(&batch_id))
            .map(|&i| st.blocks[i].record()))
    }

    async fn list_anchors(&self, cid: &str) -> Result<Vec<AnchorRecord>, LedgerError> {
        self.refresh()?;
        let st = self.lock();
        Ok(st
            .index
            .get(cid)
            .map(|m| m.values().map(|&i| st.blocks[i].record()).collect())
            .unwrap_or_default())
    }

    async fn list_containers(&self) -> Result<Vec<String>, LedgerError> {
        self.refresh()?;
        Ok(self.lock().index.keys().cloned().collect())
    }

    async fn verify_chain(&self) -> Result<ChainCheck, LedgerError> {
        self.refresh()?;
        let st = self.lock();
        let mut problems = st.problems.clone();
        // Two blocks for one batch: the later one can only come from an edit of the file.
        let mut seen = BTreeMap::new();
        for b in &st.blocks {
            if let Some(first) = seen.insert(
                (
                    b.anchor.container_instance_id.clone(),
                    b.anchor.container_batch_id,
                ),
                b.height,
            ) {
                problems.push(format!(
                    "batch {}/{} is anchored twice (heights {first} and {})",
                    b.anchor.container_instance_id, b.anchor.container_batch_id, b.height
                ));
            }
        }
        Ok(ChainCheck {
            problems,
            blocks_checked: st.blocks.len() as u64,
        })
    }

    async fn status(&self) -> Result<LedgerStatus, LedgerError> {
        self.refresh()?;
        let st = self.lock();
        Ok(LedgerStatus {
            backend: "mock".into(),
            location: self.path.display().to_string(),
            head_height: st.tip_height,
            head_hash: st.blocks.last().map(|b| b.block_hash.to_hex()),
            anchor_count: st.blocks.len() as u64,
            chain_id: None,
            details: vec![("problems".into(), st.problems.len().to_string())],
        })
    }
}
