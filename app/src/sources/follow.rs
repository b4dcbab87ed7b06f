//! Reading JSON lines: a file or stdin to its end, or a file followed like `tail -F`.
//!
//! Following survives rotation (the name is renamed away and recreated: the old file is
//! read to its end, and kept open a little longer for late writes, before the new one is
//! read from its start) and truncation (same file, now shorter than what was read: read again
//! from the start). A partial last line waits for its newline. Each byte is read once,
//! through one file descriptor, so no line is read twice or skipped.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::sources::ingest::{Closed, LineSink};

/// How often a followed file is checked for new data, rotation and truncation.
pub const POLL: Duration = Duration::from_millis(50);
/// How long a rotated-away file is still read for late writes.
const ROTATED_GRACE: Duration = Duration::from_secs(2);
/// Longer lines are rejected (counted) instead of buffered without bound.
pub const MAX_LINE: usize = 4 << 20;
const CHUNK: usize = 1 << 16;

/// Splits a byte stream into lines, keeping an unterminated tail for the next chunk.
#[derive(Default)]
pub struct Lines {
    partial: Vec<u8>,
    /// Inside an over-long line: skip to its newline.
    skipping: bool,
}

impl Lines {
    pub fn feed(&mut self, mut chunk: &[u8], sink: &mut LineSink) -> Result<(), Closed> {
        while let Some(i) = chunk.iter().position(|&b| b == b'\n') {
            let (line, rest) = (&chunk[..i], &chunk[i + 1..]);
            if self.skipping {
                self.skipping = false;
            } else if self.partial.is_empty() {
                sink.line(line)?;
            } else {
                self.partial.extend_from_slice(line);
                let whole = std::mem::take(&mut self.partial);
                sink.line(&whole)?;
            }
            chunk = rest;
        }
        if !self.skipping {
            self.partial.extend_from_slice(chunk);
            if self.partial.len() > MAX_LINE {
                self.partial = Vec::new();
                self.skipping = true;
                sink.reject_line(&format!("line longer than {MAX_LINE} bytes"));
            }
        }
        sink.flush()
    }

    /// The input ended: an unterminated last line is still a line.
    pub fn finish(&mut self, sink: &mut LineSink) -> Result<(), Closed> {
        self.skipping = false;
        if self.partial.is_empty() {
            return Ok(());
        }
        let last = std::mem::take(&mut self.partial);
        sink.line(&last)?;
        sink.flush()
    }

    pub fn pending_bytes(&self) -> usize {
        self.partial.len()
    }
}

/// Reads until EOF, `stop`, or the pipeline hanging up.
pub fn read_to_end(mut input: impl Read, sink: &mut LineSink, stop: &AtomicBool) -> Result<()> {
    let mut lines = Lines::default();
    let mut buf = vec![0u8; CHUNK];
    while !stop.load(Ordering::Relaxed) {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e).context("reading the input"),
        };
        if lines.feed(&buf[..n], sink).is_err() {
            return Ok(());
        }
    }
    let _ = lines.finish(sink);
    Ok(())
}

/// Reads what `file` has now (to its current end); returns the byte count.
fn drain(
    file: &mut File,
    lines: &mut Lines,
    sink: &mut LineSink,
    buf: &mut [u8],
) -> Result<u64, DrainError> {
    let mut total = 0u64;
    loop {
        match file.read(buf) {
            Ok(0) => return Ok(total),
            Ok(n) => {
                total += n as u64;
                lines
                    .feed(&buf[..n], sink)
                    .map_err(|_| DrainError::Closed)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(DrainError::Io(e)),
        }
    }
}

enum DrainError {
    Closed,
    Io(std::io::Error),
}

fn identity(m: &std::fs::Metadata) -> (u64, u64) {
    (m.dev(), m.ino())
}

/// A followed file: descriptor, identity, bytes read, its own unterminated tail.
struct Followed {
    file: File,
    id: (u64, u64),
    pos: u64,
    lines: Lines,
}

impl Followed {
    fn open(path: &Path) -> std::io::Result<Followed> {
        let file = File::open(path)?;
        let id = identity(&file.metadata()?);
        Ok(Followed {
            file,
            id,
            pos: 0,
            lines: Lines::default(),
        })
    }

    fn drain(&mut self, sink: &mut LineSink, buf: &mut [u8]) -> Result<(), DrainError> {
        self.pos += drain(&mut self.file, &mut self.lines, sink, buf)?;
        Ok(())
    }
}

/// Follows `path` until `stop` (the whole file first, then what is appended).
pub fn follow(
    path: &Path,
    sink: &mut LineSink,
    stop: &AtomicBool,
    poll: Duration,
    workflow_log: bool,
) -> Result<()> {
    let mut buf = vec![0u8; CHUNK];
    let mut cur = Followed::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut rotated: Option<(Followed, Instant)> = None;
    let result = loop {
        // the rotated-away file first: its lines were written before the new file's
        if let Some((old, since)) = &mut rotated {
            if let Err(e) = old.drain(sink, &mut buf) {
                break Err(e);
            }
            if since.elapsed() >= ROTATED_GRACE {
                // The writer has moved on: its last line is complete even without `\n`.
                if old.lines.finish(sink).is_err() {
                    break Err(DrainError::Closed);
                }
                rotated = None;
            }
        }
        if let Err(e) = cur.drain(sink, &mut buf) {
            break Err(e);
        }
        if stop.load(Ordering::Relaxed) {
            break Ok(());
        }
        let shrunk = cur
            .file
            .metadata()
            .map(|m| m.len() < cur.pos)
            .unwrap_or(false);
        if shrunk {
            if workflow_log {
                eprintln!(
                    "[workflow] {} was truncated: reading it again from the start",
                    path.display()
                );
            }
            if cur.lines.finish(sink).is_err() {
                break Err(DrainError::Closed);
            }
            if let Err(e) = cur.file.seek(SeekFrom::Start(0)) {
                break Err(DrainError::Io(e));
            }
            cur.pos = 0;
            continue;
        }
        // Another file under the name: rotated. (Unchanged, or renamed away and not yet
        // recreated, or gone again between the two calls: look again at the next poll.)
        let renamed = std::fs::metadata(path).is_ok_and(|m| identity(&m) != cur.id);
        if let Some(new) = renamed.then(|| Followed::open(path).ok()).flatten() {
            if workflow_log {
                eprintln!(
                    "[workflow] {} was rotated: reading the new file from its start",
                    path.display()
                );
            }
            if let Some((mut older, _)) = rotated.take() {
                if older.lines.finish(sink).is_err() {
                    break Err(DrainError::Closed);
                }
            }
            rotated = Some((std::mem::replace(&mut cur, new), Instant::now()));
            continue;
        }
        std::thread::sleep(poll);
    };
    let left = cur.lines.pending_bytes();
    if left > 0 && workflow_log {
        eprintln!("[workflow] an unterminated last line ({left} bytes) was left unread");
    }
    match result {
        Ok(()) | Err(DrainError::Closed) => Ok(()),
        Err(DrainError::Io(e)) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Stdin read on a detached thread, so a signal can end the run while a read blocks.
pub struct StdinChunks {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    stop: Arc<AtomicBool>,
    cur: Vec<u8>,
    pos: usize,
}

impl StdinChunks {
    pub fn spawn(stop: Arc<AtomicBool>) -> StdinChunks {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(16);
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            loop {
                let mut buf = vec![0u8; CHUNK];
                match stdin.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        buf.truncate(n);
                        if tx.send(buf).is_err() {
                            break;
                        }
                    }
                }
            }
        });
        StdinChunks {
            rx,
            stop,
            cur: Vec::new(),
            pos: 0,
        }
    }
}

impl Read for StdinChunks {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.pos >= self.cur.len() {
            if self.stop.load(Ordering::Relaxed) {
                return Ok(0);
            }
            match self.rx.recv_timeout(Duration::from_millis(100)) {
                Ok(chunk) => {
                    self.cur = chunk;
                    self.pos = 0;
                }
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => return Ok(0),
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::ingest::{Format, IngestCounts};

    const ALERT: &str = r#"{"rule":"r","priority":"Notice","time":"2024-03-09T16:00:00Z"}"#;

    fn sink() -> (
        LineSink,
        Arc<IngestCounts>,
        tokio::sync::mpsc::Receiver<crate::pipeline::SourceMsg>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::channel(1024);
        let counts = Arc::new(IngestCounts::default());
        (
            LineSink::new(Format::Falco, tx, counts.clone(), false),
            counts,
            rx,
        )
    }

    #[test]
    fn lines_split_across_chunks_crlf_and_an_unterminated_tail() {
        let (mut sink, counts, _rx) = sink();
        let text = format!("{ALERT}\r\n\n{ALERT}\nnot json\n{ALERT}");
        let mut lines = Lines::default();
        for chunk in text.as_bytes().chunks(7) {
            lines.feed(chunk, &mut sink).unwrap();
        }
        assert_eq!(counts.ingested(), 2);
        assert!(lines.pending_bytes() > 0);
        lines.finish(&mut sink).unwrap();
        assert_eq!((counts.ingested(), counts.rejected()), (3, 1));
        let first = counts.first_rejection().unwrap();
        assert!(
            first.starts_with("line 4: not a Falco JSON alert"),
            "{first}"
        );
    }

    #[test]
    fn an_over_long_line_is_rejected_and_skipped_to_its_newline() {
        let (mut sink, counts, _rx) = sink();
        let mut lines = Lines::default();
        let big = vec![b'x'; MAX_LINE / 2];
        for _ in 0..3 {
            lines.feed(&big, &mut sink).unwrap();
        }
        lines
            .feed(format!("xx\n{ALERT}\n").as_bytes(), &mut sink)
            .unwrap();
        assert_eq!((counts.ingested(), counts.rejected()), (1, 1));
        assert!(counts.first_rejection().unwrap().contains("longer than"));
    }
}
