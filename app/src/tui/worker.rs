//! Starts the background work an [`Action`] asks for; results come back as events.

use std::path::PathBuf;
use std::sync::Arc;

use conanchor_ledger::Ledger;
use tokio::sync::mpsc;

use super::app::App;
use super::args::TuiArgs;
use super::event::{Action, AppEvent, Event};
use super::tasks;
use crate::ledgers::LedgerArgs;

pub struct Worker {
    tx: mpsc::UnboundedSender<Event>,
    data_dir: PathBuf,
    ledger_args: LedgerArgs,
    ledger: Arc<dyn Ledger>,
}

impl Worker {
    pub fn new(
        tx: mpsc::UnboundedSender<Event>,
        args: &TuiArgs,
        ledger: Arc<dyn Ledger>,
    ) -> Worker {
        Worker {
            tx,
            data_dir: args.data_dir.clone(),
            ledger_args: args.ledger.clone(),
            ledger,
        }
    }

    fn post(tx: &mpsc::UnboundedSender<Event>, e: AppEvent) {
        let _ = tx.send(Event::App(e));
    }

    /// A ledger that sees other processes' edits, or the error as an event.
    fn ledger(&self) -> Result<Arc<dyn Ledger>, String> {
        tasks::fresh_ledger(&self.ledger_args, &self.data_dir, &self.ledger)
            .map_err(|e| crate::one_line(&e))
    }

    pub fn dispatch(&self, app: &mut App, action: Action) {
        let tx = self.tx.clone();
        let dir = self.data_dir.clone();
        match action {
            Action::Quit => {}
            Action::RefreshStore => {
                if app.store_inflight {
                    return;
                }
                app.store_inflight = true;
                let selected = app.selected_container().map(str::to_string);
                tokio::task::spawn_blocking(move || {
                    Self::post(&tx, tasks::read_store(&dir, selected.as_deref()));
                });
            }
            Action::RefreshLedger => {
                if app.ledger_inflight {
                    return;
                }
                let ledger = match self.ledger() {
                    Ok(l) => l,
                    Err(e) => return Self::post(&tx, AppEvent::Ledger(Err(e))),
                };
                app.ledger_inflight = true;
                let selected = app.selected_container().map(str::to_string);
                tokio::spawn(async move {
                    Self::post(&tx, tasks::read_ledger(ledger, selected).await);
                });
            }
            Action::Verify(scope) => {
                let ledger = match self.ledger() {
                    Ok(l) => l,
                    Err(e) => return Self::post(&tx, AppEvent::VerifyDone(Err(e))),
                };
                tokio::spawn(async move {
                    let ptx = tx.clone();
                    let mut last = 0u64;
                    let progress = move |done: u64, total: u64| {
                        // At most ~100 progress events per run.
                        let step = (total / 100).max(1);
                        if done == total || done >= last + step {
                            last = done;
                            Self::post(&ptx, AppEvent::VerifyProgress { done, total });
                        }
                    };
                    Self::post(&tx, tasks::verify(ledger, &dir, scope, progress).await);
                });
            }
            Action::Diff {
                container,
                batch_id,
            } => {
                let ledger = match self.ledger() {
                    Ok(l) => l,
                    Err(e) => return Self::post(&tx, AppEvent::DiffReady(Err(e))),
                };
                tokio::spawn(async move {
                    Self::post(&tx, tasks::diff(ledger, &dir, container, batch_id).await);
                });
            }
            Action::Attack {
                kind,
                container,
                batch_id,
            } => {
                let chain = self.ledger_args.mock_path(&dir);
                tokio::task::spawn_blocking(move || {
                    Self::post(&tx, tasks::attack(&dir, &chain, kind, &container, batch_id));
                });
            }
            Action::Restore => {
                tokio::task::spawn_blocking(move || {
                    Self::post(&tx, tasks::restore(&dir));
                });
            }
        }
    }
}
