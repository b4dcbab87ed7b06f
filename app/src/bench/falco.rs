//! `bench --source falco`: Falco JSON lines from a file through the whole collector (parse,
//! store, seal, anchor on the mock chain), then verified. Without `--input` a file of
//! realistic alerts is written first (not timed).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use serde::Serialize;

use super::{verify_all, BenchArgs};
use crate::cli::collect::wait_anchored;
use crate::sources::follow;
use crate::sources::ingest::{parse_record, Format, IngestCounts, LineSink};
use crate::util::peak_rss_bytes;

/// Lines written when neither `--input` nor `--events` is given.
pub const DEFAULT_LINES: u64 = 300_000;

#[derive(Debug, Clone, Serialize)]
pub struct FalcoBenchReport {
    pub input: String,
    pub lines: u64,
    pub bytes: u64,
    pub rejected: u64,
    pub batch_size: usize,
    /// JSON parsing and mapping only (one thread, no store).
    pub parse_lines_per_sec: f64,
    /// File → parse → store → seal → anchored (mock chain), end to end.
    pub ingest_seconds: f64,
    pub ingest_lines_per_sec: f64,
    /// CPU seconds (all threads, user + system) the ingest took: lines ÷ CPU time is less
    /// sensitive than the wall-clock rate to other load on the machine.
    pub ingest_cpu_seconds: f64,
    pub ingest_lines_per_cpu_sec: f64,
    pub verify_events_per_sec: f64,
    pub peak_rss_bytes: Option<u64>,
}

/// The `i`-th synthetic alert: four rule kinds over `containers` containers.
pub fn alert(i: u64, containers: u64) -> String {
    let c = i % containers;
    let pid = 1000 + (i % 30_000);
    let (secs, ns) = (1_710_000_000 + i / 1000, (i % 1000) * 1_000_000 + 123);
    let time = chrono::DateTime::from_timestamp(secs as i64, ns as u32)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true))
        .unwrap_or_default();
    let (rule, priority, evt, name, file) = match i % 4 {
        0 => (
            "ConAnchor service account token read",
            "Warning",
            "openat",
            "cat",
            "/var/run/secrets/kubernetes.io/serviceaccount/token",
        ),
        1 => (
            "ConAnchor wget exec",
            "Warning",
            "execve",
            "wget",
            "/usr/bin/wget",
        ),
        2 => (
            "ConAnchor suspicious mount",
            "Critical",
            "mount",
            "mount",
            "/host/proc",
        ),
        _ => (
            "Read sensitive file untrusted",
            "Warning",
            "openat",
            "python3",
            "/etc/shadow",
        ),
    };
    format!(
        concat!(
            r#"{{"hostname":"node-1","output":"{t}: {p} {r} (user=root command={n} file={f} container_id=c0ffee{c:06})","#,
            r#""output_fields":{{"container.id":"c0ffee{c:06}","container.name":"app-{c}","evt.type":"{e}","#,
            r#""fd.name":"{f}","k8s.ns.name":"default","k8s.pod.name":"app-{c}-7c5d","proc.cmdline":"{n} {f}","#,
            r#""proc.name":"{n}","proc.pid":{pid},"user.name":"root","user.uid":0}},"#,
            r#""priority":"{p}","rule":"{r}","source":"syscall","tags":["conanchor","container"],"time":"{t}"}}"#
        ),
        t = time,
        p = priority,
        r = rule,
        n = name,
        f = file,
        c = c,
        e = evt,
        pid = pid
    )
}

fn write_alerts(path: &Path, n: u64, containers: u64) -> Result<()> {
    let f = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut w = BufWriter::with_capacity(1 << 20, f);
    for i in 0..n {
        writeln!(w, "{}", alert(i, containers))?;
    }
    w.flush()?;
    Ok(())
}

/// User + system CPU seconds of this process so far (all threads).
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage fills the struct it is given; RUSAGE_SELF is always valid.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return f64::NAN;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

/// Parse-only rate over the file's lines (what the reader thread does per line), streamed.
fn parse_rate(path: &Path) -> Result<(f64, u64)> {
    use std::io::BufRead;
    let file = std::fs::File::open(path)
        .with_context(|| format!("cannot read --input {}", path.display()))?;
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut line = Vec::with_capacity(4096);
    let start = Instant::now();
    let mut ok = 0u64;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let raw = line.strip_suffix(b"\n").unwrap_or(&line);
        if let Ok(Some(ev)) = parse_record(Format::Falco, raw) {
            ok += 1;
            std::hint::black_box(ev);
        }
    }
    Ok((ok as f64 / start.elapsed().as_secs_f64(), ok))
}

pub async fn run(args: &BenchArgs, dir: &Path) -> Result<()> {
    let input: PathBuf = match &args.input {
        Some(p) => p.clone(),
        None => {
            let n = args.events.unwrap_or(DEFAULT_LINES);
            let p = dir.join("falco_events.json");
            if !args.json {
                eprintln!(
                    "bench: writing {n} Falco alerts over {} containers to {}",
                    args.containers,
                    p.display()
                );
            }
            write_alerts(&p, n, args.containers as u64)?;
            p
        }
    };
    let (parse_lines_per_sec, parsed) = parse_rate(&input)?;
    if !args.json {
        eprintln!(
            "bench: ingesting {} into {}",
            input.display(),
            dir.display()
        );
    }

    let counts = Arc::new(IngestCounts::default());
    let cpu_start = cpu_seconds();
    let start = Instant::now();
    let running = super::bench_collector(dir, args.batch_size).await?;
    let mut sink = LineSink::new(Format::Falco, running.sender()?, counts.clone(), false);
    let file = std::fs::File::open(&input)?;
    tokio::task::spawn_blocking(move || {
        follow::read_to_end(file, &mut sink, &AtomicBool::new(false))
    })
    .await??;
    running.finish().await?;
    wait_anchored(dir).await?;
    let ingest_seconds = start.elapsed().as_secs_f64();
    let ingest_cpu_seconds = cpu_seconds() - cpu_start;
    let lines = counts.ingested();
    anyhow::ensure!(lines == parsed, "ingested {lines} lines, parsed {parsed}");
    let (verify_secs, verified) = verify_all(dir).await?;
    anyhow::ensure!(
        verified == lines,
        "verified {verified} events, expected {lines}"
    );
    let report = FalcoBenchReport {
        input: input.display().to_string(),
        lines,
        bytes: std::fs::metadata(&input)?.len(),
        rejected: counts.rejected(),
        batch_size: args.batch_size,
        parse_lines_per_sec,
        ingest_seconds,
        ingest_lines_per_sec: lines as f64 / ingest_seconds,
        ingest_cpu_seconds,
        ingest_lines_per_cpu_sec: lines as f64 / ingest_cpu_seconds,
        verify_events_per_sec: verified as f64 / verify_secs,
        peak_rss_bytes: peak_rss_bytes(),
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let r = &report;
        println!(
            "falco lines            {} ({:.1} MB, {} rejected)",
            r.lines,
            r.bytes as f64 / 1e6,
            r.rejected
        );
        println!(
            "parse + map only       {:>12.0} lines/s",
            r.parse_lines_per_sec
        );
        println!(
            "ingest (file→anchored) {:>12.0} lines/s  ({:.2} s)",
            r.ingest_lines_per_sec, r.ingest_seconds
        );
        println!(
            "  per CPU second       {:>12.0} lines/s  ({:.2} CPU s, all threads)",
            r.ingest_lines_per_cpu_sec, r.ingest_cpu_seconds
        );
        println!(
            "verify                 {:>12.0} events/s",
            r.verify_events_per_sec
        );
        println!("peak RSS               {:>12}", super::mb(r.peak_rss_bytes));
    }
    Ok(())
}
