//! What the Falco and Tetragon sources share: the line → event step (parse, count, send), the
//! rejection counters and summary, and the `collect` driver that picks a file, stdin, a
//! followed file or the HTTP listener. The field helpers are in [`super::mapping`].
//!
//! A line that is not valid JSON or lacks a required field is counted and reported, never
//! fatal: a collector must not stop because one upstream record is odd.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use conanchor_store::Event;
use tokio::sync::mpsc;

use crate::collector::Collector;
use crate::pipeline::SourceMsg;
use crate::sources::{falco, follow, http, tetragon};

/// Rejections logged one by one in `--workflow-log`; later ones are only counted.
const LOGGED_REJECTIONS: u64 = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Falco,
    Tetragon,
}

impl Format {
    /// Maps one JSON record (without its line terminator) into an event whose `extra` is
    /// the record verbatim.
    pub fn parse(self, line: &str) -> Result<Event, String> {
        match self {
            Format::Falco => falco::parse(line),
            Format::Tetragon => tetragon::parse(line),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Falco => "Falco",
            Format::Tetragon => "Tetragon",
        }
    }
}

/// Counters of one ingest run, shared with status lines (and the workstation).
#[derive(Debug, Default)]
pub struct IngestCounts {
    ingested: AtomicU64,
    rejected: AtomicU64,
    first_rejection: Mutex<Option<String>>,
}

impl IngestCounts {
    pub fn ingested(&self) -> u64 {
        self.ingested.load(Ordering::Relaxed)
    }

    pub fn rejected(&self) -> u64 {
        self.rejected.load(Ordering::Relaxed)
    }

    pub fn first_rejection(&self) -> Option<String> {
        self.first_rejection
            .lock()
            .map(|f| f.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    pub fn add_ingested(&self, n: u64) {
        self.ingested.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts a rejected record; `at` says where it was (`line 12`, `request 3`).
    pub fn reject(&self, at: &str, reason: &str, workflow_log: bool) {
        let n = self.rejected.fetch_add(1, Ordering::Relaxed) + 1;
        if n == 1 {
            let mut first = self
                .first_rejection
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            *first = Some(format!("{at}: {reason}"));
        }
        if workflow_log && n <= LOGGED_REJECTIONS {
            eprintln!("[workflow] rejected {at}: {reason}");
        } else if workflow_log && n == LOGGED_REJECTIONS + 1 {
            eprintln!("[workflow] further rejections are counted but not logged one by one");
        }
    }

    /// `ingested N, rejected M (first: line K: reason)`.
    pub fn summary(&self) -> String {
        let mut s = format!("ingested {}, rejected {}", self.ingested(), self.rejected());
        if let Some(first) = self.first_rejection() {
            s.push_str(&format!(" (first: {first})"));
        }
        s
    }
}

/// The pipeline hung up: stop reading.
#[derive(Debug, Clone, Copy)]
pub struct Closed;

/// Events parsed from one read are sent together, at most this many at a time: the
/// pipeline wakes once per burst instead of once per line.
const BURST: usize = 256;

/// Parses numbered lines and sends the events (blocking: used from reader threads). Events
/// are held until [`LineSink::flush`] (called after every chunk read) or a full burst.
pub struct LineSink {
    pub format: Format,
    pub tx: mpsc::Sender<SourceMsg>,
    pub counts: Arc<IngestCounts>,
    pub workflow_log: bool,
    line_no: u64,
    pending: Vec<Event>,
}

impl LineSink {
    pub fn new(
        format: Format,
        tx: mpsc::Sender<SourceMsg>,
        counts: Arc<IngestCounts>,
        workflow_log: bool,
    ) -> LineSink {
        LineSink {
            format,
            tx,
            counts,
            workflow_log,
            line_no: 0,
            pending: Vec::with_capacity(BURST),
        }
    }

    /// Sends the events held back.
    pub fn flush(&mut self) -> Result<(), Closed> {
        let n = self.pending.len() as u64;
        for ev in self.pending.drain(..) {
            self.tx
                .blocking_send(SourceMsg::Event(Box::new(ev)))
                .map_err(|_| Closed)?;
        }
        self.counts.add_ingested(n);
        Ok(())
    }

    /// One line without its `\n`. Blank lines are skipped (they still take a line number).
    pub fn line(&mut self, raw: &[u8]) -> Result<(), Closed> {
        self.line_no += 1;
        match parse_record(self.format, raw) {
            Ok(Some(ev)) => {
                self.pending.push(ev);
                if self.pending.len() >= BURST {
                    self.flush()?;
                }
            }
            Ok(None) => {}
            Err(reason) => self.counts.reject(
                &format!("line {}", self.line_no),
                &reason,
                self.workflow_log,
            ),
        }
        Ok(())
    }

    /// A line that could not even be read whole (e.g. longer than the line limit).
    pub fn reject_line(&mut self, reason: &str) {
        self.line_no += 1;
        self.counts
            .reject(&format!("line {}", self.line_no), reason, self.workflow_log);
    }
}

/// One record: `Ok(None)` for a blank line. A trailing `\r` (CRLF files) is part of the
/// line terminator and is not kept.
pub fn parse_record(format: Format, raw: &[u8]) -> Result<Option<Event>, String> {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    if raw.iter().all(|b| b.is_ascii_whitespace()) {
        return Ok(None);
    }
    let line = std::str::from_utf8(raw).map_err(|_| "not UTF-8".to_string())?;
    format.parse(line).map(Some)
}

// ---- the `collect` driver ---------------------------------------------------------------

/// Where the records come from.
#[derive(Debug, Clone)]
pub enum Input {
    Stdin,
    File {
        path: PathBuf,
        follow: bool,
    },
    /// Falco's HTTP endpoint, already bound.
    Listen(Arc<std::net::TcpListener>),
}

impl std::fmt::Display for Input {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Input::Stdin => f.write_str("stdin"),
            Input::File {
                path,
                follow: false,
            } => write!(f, "{}", path.display()),
            Input::File { path, follow: true } => write!(f, "{} (followed)", path.display()),
            Input::Listen(l) => match l.local_addr() {
                Ok(addr) => write!(f, "http://{addr}/"),
                Err(_) => f.write_str("the HTTP endpoint"),
            },
        }
    }
}

/// How often `--workflow-log` reports the counters of a long-running ingest.
const STATUS_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct IngestOptions {
    pub format: Format,
    pub input: Input,
    pub workflow_log: bool,
    /// Stop after this long (also in the read-to-end modes).
    pub duration: Option<Duration>,
}

/// Checks the flags and opens what must be opened before the store is touched, so a typo
/// exits 2 without side effects.
pub fn prepare(
    format: Format,
    input: Option<&str>,
    follow: bool,
    listen: Option<&str>,
) -> Result<Input> {
    if let Some(addr) = listen {
        if format != Format::Falco {
            bail!("--listen is for --source falco; point Tetragon's JSON export at a file and use --input FILE --follow");
        }
        if input.is_some() || follow {
            bail!(
                "--listen cannot be combined with --input or --follow: run one collector per input"
            );
        }
        let addr = addr.parse().with_context(|| {
            format!("--listen {addr:?} is not an address: use e.g. 127.0.0.1:8765")
        })?;
        return Ok(Input::Listen(Arc::new(http::bind_std(addr)?)));
    }
    match input {
        None | Some("-") => {
            if follow {
                bail!("--follow needs --input FILE (stdin is read to its end anyway)");
            }
            Ok(Input::Stdin)
        }
        Some(path) => {
            let path = PathBuf::from(path);
            std::fs::File::open(&path).with_context(|| {
                format!(
                    "cannot read --input {}: check the path and permissions",
                    path.display()
                )
            })?;
            if path.is_dir() {
                bail!(
                    "--input {} is a directory: give the JSON lines file",
                    path.display()
                );
            }
            Ok(Input::File { path, follow })
        }
    }
}

/// Runs one ingest source into `running` until its input ends or SIGINT/SIGTERM/`duration`,
/// then flushes, anchors and prints the summary on stderr.
pub async fn run(opts: IngestOptions, running: Collector) -> Result<Arc<IngestCounts>> {
    let counts = Arc::new(IngestCounts::default());
    let stop = Arc::new(AtomicBool::new(false));
    let tx = running.sender()?;
    let stop_signal = crate::cli::collect::wait_for_stop(opts.duration);
    let status = opts.workflow_log.then(|| {
        let counts = counts.clone();
        tokio::spawn(async move {
            let mut last = (0, 0);
            let mut tick = tokio::time::interval(STATUS_EVERY);
            tick.tick().await;
            loop {
                tick.tick().await;
                let now = (counts.ingested(), counts.rejected());
                if now != last {
                    eprintln!("[workflow] status: {}", counts.summary());
                    last = now;
                }
            }
        })
    });
    match opts.input.clone() {
        Input::Listen(listener) => {
            let server = http::Server::new(
                &listener,
                opts.format,
                tx,
                counts.clone(),
                opts.workflow_log,
            )?;
            eprintln!(
                "listening on http://{}/ for {} events (POST JSON; Ctrl-C to stop)",
                server.local_addr(),
                opts.format.name()
            );
            server.run_until(stop_signal).await?;
        }
        input => {
            let mut sink = LineSink::new(opts.format, tx, counts.clone(), opts.workflow_log);
            let st = stop.clone();
            let wl = opts.workflow_log;
            let reader = std::thread::Builder::new()
                .name("conanchor-ingest".into())
                .spawn(move || match input {
                    Input::File { path, follow: true } => {
                        follow::follow(&path, &mut sink, &st, follow::POLL, wl)
                    }
                    Input::File { path, .. } => std::fs::File::open(&path)
                        .map_err(anyhow::Error::from)
                        .and_then(|f| follow::read_to_end(f, &mut sink, &st)),
                    _ => {
                        follow::read_to_end(follow::StdinChunks::spawn(st.clone()), &mut sink, &st)
                    }
                })
                .context("starting the reader thread")?;
            let mut joined = tokio::task::spawn_blocking(move || reader.join());
            let result = tokio::select! {
                r = &mut joined => r,
                s = stop_signal => {
                    s?;
                    stop.store(true, Ordering::Relaxed);
                    (&mut joined).await
                }
            };
            result?
                .map_err(|_| anyhow::anyhow!("the reader thread panicked"))?
                .context("reading the input")?;
        }
    }
    if let Some(status) = status {
        status.abort();
    }
    if opts.workflow_log {
        eprintln!("[workflow] input done: flushing partial batches and anchoring what is pending");
    }
    running.finish().await?;
    eprintln!("{}", counts.summary());
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_the_first_rejection() {
        let c = IngestCounts::default();
        c.add_ingested(3);
        c.reject("line 2", "not JSON", false);
        c.reject("line 5", "no rule", false);
        assert_eq!(
            c.summary(),
            "ingested 3, rejected 2 (first: line 2: not JSON)"
        );
    }
}
