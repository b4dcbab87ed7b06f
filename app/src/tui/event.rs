//! The one event type of the workstation's loop, and the actions key handlers ask for.
//!
//! Background tasks (SQLite reads, verification, attacks, ledger calls) never touch the
//! app state: they post an [`AppEvent`] with their result, which the loop applies.

use conanchor_ledger::LedgerStatus;
use ratatui::crossterm::event::Event as CrosstermEvent;

use crate::attack::{AttackOutcome, AttackType};
use crate::diff::BatchDiff;
use crate::verify::VerifyReport;

/// What the event loop reacts to.
#[derive(Debug)]
pub enum Event {
    /// Time to drain the tap, roll rates and redraw.
    Tick,
    /// Keyboard, mouse or resize.
    Crossterm(CrosstermEvent),
    /// A background task finished (or made progress).
    App(AppEvent),
}

/// One batch as the Batches panel shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRow {
    pub batch_id: u64,
    pub first_seq: u64,
    pub last_seq: u64,
    pub event_count: u64,
    pub dropped: u64,
    pub merkle_root: String,
    pub end_time_ns: u64,
    /// `None` = pending anchoring.
    pub anchored: Option<(String, u64)>,
}

/// A container's exact totals, read from the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerTotals {
    pub container_instance_id: String,
    pub events: u64,
    pub open_dropped: u64,
    pub last_seen_ns: u64,
}

/// One anchor on the ledger, for the Ledger panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorRow {
    pub block_height: u64,
    pub tx_id: String,
    pub container_instance_id: String,
    pub batch_id: u64,
    pub event_count: u64,
}

/// The ledger as last read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerSnapshot {
    pub status: LedgerStatus,
    pub chain_problems: Vec<String>,
    pub blocks_checked: u64,
    /// The latest anchors, newest first.
    pub recent: Vec<AnchorRow>,
}

/// Results posted by background tasks.
#[derive(Debug)]
pub enum AppEvent {
    /// Totals and the selected container's batches, read from SQLite.
    Store {
        /// Sealed batches waiting in the outbox.
        pending_anchors: u64,
        containers: Vec<ContainerTotals>,
        batches: Option<(String, Vec<BatchRow>)>,
    },
    StoreError(String),
    Ledger(Result<LedgerSnapshot, String>),
    VerifyProgress {
        done: u64,
        total: u64,
    },
    VerifyDone(Result<VerifyReport, String>),
    DiffReady(Result<Box<BatchDiff>, String>),
    AttackDone(Result<AttackOutcome, String>),
    RestoreDone(Result<Vec<String>, String>),
}

/// Which containers a verification covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyScope {
    Container(String),
    All,
}

/// Work a key or click asks for; the loop runs it in the background.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Quit,
    RefreshStore,
    RefreshLedger,
    Verify(VerifyScope),
    Diff {
        container: String,
        batch_id: u64,
    },
    Attack {
        kind: AttackType,
        container: String,
        batch_id: Option<u64>,
    },
    Restore,
}
