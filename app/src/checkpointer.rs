//! WAL checkpoints off the writer thread. SQLite runs an automatic checkpoint inside the
//! commit that crosses `wal_autocheckpoint` pages, on the committing thread: at high event
//! rates the writer spent several percent of its time copying WAL frames back into the
//! database. The collector raises the writer's threshold (a safety net, should this thread
//! fall behind) and checkpoints passively from here, on its own connection. A passive
//! checkpoint never blocks the writer.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use conanchor_store::rusqlite::{Connection, OpenFlags};

/// The writer's automatic checkpoint threshold while a checkpointer runs (pages; 16 KiB
/// each for stores made by this version: 128 MiB of WAL).
pub const WRITER_AUTOCHECKPOINT_PAGES: u32 = 8192;

const PERIOD: Duration = Duration::from_millis(250);

/// A thread that checkpoints the store's WAL every 250 ms until dropped.
pub struct Checkpointer {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing `<data_dir>/conanchor.db`. `None` when the thread cannot start
    /// (the writer's own automatic checkpoints then still bound the WAL).
    pub fn start(db: &Path) -> Option<Checkpointer> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let path: PathBuf = db.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("conanchor-ckpt".into())
            .spawn(move || run(&path, &flag))
            .map_err(|e| tracing::warn!(error = %e, "cannot start the WAL checkpointer"))
            .ok()?;
        Some(Checkpointer {
            stop,
            thread: Some(thread),
        })
    }
}

fn run(path: &Path, stop: &AtomicBool) {
    let conn = match Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "WAL checkpointer cannot open the store");
            return;
        }
    };
    let _ = conn.busy_timeout(Duration::from_millis(100));
    while !stop.load(Ordering::Relaxed) {
        // woken early by Drop, so stopping never waits out the period
        std::thread::park_timeout(PERIOD);
        if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
            tracing::debug!(error = %e, "passive WAL checkpoint");
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}
