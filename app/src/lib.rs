//! ConAnchor: the pipeline, sources, verification and the command line.

pub mod attack;
pub mod bench;
pub mod bench_probe;
pub mod bench_tui;
pub mod checkpointer;
pub mod cli;
pub mod collector;
pub mod diff;
pub mod ledgers;
pub mod pipeline;
pub mod sources;
pub mod tui;
pub mod util;
pub mod verify;

/// mimalloc for every binary: events are built on a source thread and freed on the writer
/// thread, a pattern where glibc's arenas contend on a lock (seen in `perf` as
/// `__lll_lock_wait_private` under `malloc`/`free` in both threads).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Formats an error chain on one line: `outer: inner: root cause`.
pub fn one_line(err: &anyhow::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    for cause in err.chain() {
        let s = cause.to_string();
        if !parts.iter().any(|p| p.contains(&s)) {
            parts.push(s);
        }
    }
    parts.join(": ").replace('\n', " ")
}
