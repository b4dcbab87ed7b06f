//! Starts the background work an [`Action`] asks for; results come back as events.

use std::future::Future;
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

    /// A ledger that sees other processes' edits. Opening the mock chain reads its whole
    /// file, so it runs on a blocking thread inside the task, never in the render loop.
    fn ledger(&self) -> impl Future<Output = Result<Arc<dyn Ledger>, String>> + Send + 'static {
        let args = self.ledger_args.clone();
        let dir = self.data_dir.clone();
        let shared = self.ledger.clone();
        async move {
            tokio::task::spawn_blocking(move || tasks::fresh_ledger(&args, &dir, &shared))
                .await
                .map_err(|e| format!("opening the ledger: {e}"))?
                .map_err(|e| crate::one_line(&e))
        }
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
                app.ledger_inflight = true;
                let ledger = self.ledger();
                let selected = app.selected_container().map(str::to_string);
                tokio::spawn(async move {
                    let ev = match ledger.await {
                        Ok(l) => tasks::read_ledger(l, selected).await,
                        Err(e) => AppEvent::Ledger(Err(e)),
                    };
                    Self::post(&tx, ev);
                });
            }
            Action::Verify(scope) => {
                let ledger = self.ledger();
                tokio::spawn(async move {
                    let ledger = match ledger.await {
                        Ok(l) => l,
                        Err(e) => return Self::post(&tx, AppEvent::VerifyDone(Err(e))),
                    };
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
                let ledger = self.ledger();
                tokio::spawn(async move {
                    let ev = match ledger.await {
                        Ok(l) => tasks::diff(l, &dir, container, batch_id).await,
                        Err(e) => AppEvent::DiffReady(Err(e)),
                    };
                    Self::post(&tx, ev);
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
