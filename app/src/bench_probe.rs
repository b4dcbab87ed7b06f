//! `bench --probe`: how much the live probe slows the workloads it watches. Four loops run
//! in a cgroup made for the bench (the probe targets it), alternately without and with
//! the probe attached and the whole collector (pipeline, store, mock ledger) consuming
//! its events, in the same run:
//!
//! - filtered (what a normal workload pays): fork + exec of `/bin/true`, open + close of
//!   a file outside the secret directories; the kernel programs run and match nothing;
//! - events (the worst case, every operation reported): fork + exec of `/bin/true`
//!   copied as `wget`, open + close of a file under `/var/run/secrets/`.
//!
//! Reported, not asserted (target: ≤ 5 % for the filtered workload). An open loop makes
//! events far faster than any collector stores them: the kernel then counts drops,
//! which the report shows (stored + dropped = generated).

use std::ffi::CString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use conanchor_probe::{cgroup2_mount, AttachMode, ProbeConfig};
use serde::Serialize;

use crate::bench::BenchArgs;
use crate::collector::Collector;
use crate::pipeline::PipelineConfig;
use crate::sources::live::LoadedProbe;

const SECRETS_DIR: &str = "/var/run/secrets";

#[derive(Debug, Clone, Serialize)]
pub struct LoopTiming {
    pub name: String,
    /// Operations per round.
    pub count: u64,
    /// Whether every operation is an event (else the kernel filters it out).
    pub events: bool,
    /// Median CPU seconds (user + system, the loop's processes) per round without / with
    /// the probe: what the probe costs the workload itself, insensitive to other load on
    /// the machine. The BPF programs run in the workload's context, so their cost is here.
    pub cpu_seconds_without: f64,
    pub cpu_seconds_with: f64,
    pub ratio: f64,
    /// Median wall seconds per round without / with the probe (includes the machine's
    /// other load, and the collector competing for the CPUs).
    pub wall_seconds_without: f64,
    pub wall_seconds_with: f64,
    pub wall_ratio: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbeBenchReport {
    pub attach_mode: String,
    pub rounds: usize,
    pub loops: Vec<LoopTiming>,
    /// with ÷ without over the filtered loops together (a normal workload).
    pub filtered_ratio: f64,
    /// with ÷ without over the event loops together (every operation reported).
    pub events_ratio: f64,
    pub events_stored: u64,
    pub events_dropped: u64,
    pub target_ratio: f64,
}

/// Runs the bench (root and BPF needed; the error says so).
pub async fn run(args: &BenchArgs) -> Result<()> {
    anyhow::ensure!(
        args.probe_rounds > 0 && args.probe_execs > 0 && args.probe_opens > 0,
        "--probe-rounds, --probe-execs and --probe-opens must be positive"
    );
    let cgroup = BenchCgroup::new()?;
    let secret = SecretFile::create()?;
    let tmp = tempfile::tempdir().context("creating a temporary directory")?;
    let wget = tmp.path().join("wget");
    std::fs::copy("/bin/true", &wget).context("copying /bin/true as wget")?;
    let plain = tmp.path().join("plain-file");
    std::fs::write(&plain, b"bench").context("creating the plain file")?;
    let procs = cstring(&cgroup.dir.join("cgroup.procs"))?;
    let loops = vec![
        Workload::new(
            "exec /bin/true",
            false,
            &procs,
            Loop::Exec(cstring(Path::new("/bin/true"))?),
            args.probe_execs,
        ),
        Workload::new(
            "open plain file",
            false,
            &procs,
            Loop::Open(cstring(&plain)?),
            args.probe_opens,
        ),
        Workload::new(
            "exec wget",
            true,
            &procs,
            Loop::Exec(cstring(&wget)?),
            args.probe_execs,
        ),
        Workload::new(
            "open secret",
            true,
            &procs,
            Loop::Open(cstring(&secret.path)?),
            args.probe_opens,
        ),
    ];
    let probe_cfg = ProbeConfig {
        attach_mode: AttachMode::Auto,
        target_cgroup_ids: vec![cgroup.id],
        ..ProbeConfig::default()
    };
    // fails here, before any measurement, without root or BPF
    let first = LoadedProbe::load(probe_cfg.clone())
        .await
        .context("bench --probe needs the live probe")?;
    let attach_mode = first.mode_description();
    drop(first);

    let data = tmp.path().join("data");
    let ledger = crate::ledgers::LedgerArgs::default();
    let cfg = PipelineConfig::new(1000, Duration::from_secs(1), "bench-probe");
    let collector = Collector::start(&data, ledger.open(&data).await?, cfg).await?;
    if !args.json {
        eprintln!(
            "bench --probe: {} rounds of {} execs and {} opens per loop in cgroup {} ({attach_mode})",
            args.probe_rounds, args.probe_execs, args.probe_opens, cgroup.id
        );
    }
    // warm-up: page cache, binaries, dentries
    for w in &loops {
        w.time(w.count.min(100))?;
    }
    let mut without: Vec<Vec<Sample>> = vec![Vec::new(); loops.len()];
    let mut with: Vec<Vec<Sample>> = vec![Vec::new(); loops.len()];
    let (mut stored, mut dropped) = (0, 0);
    for round in 0..args.probe_rounds {
        // ABBA order: drift over the run hits both sides alike
        for probe_on in [round % 2 == 1, round % 2 == 0] {
            let live = if probe_on {
                Some(
                    LoadedProbe::load(probe_cfg.clone())
                        .await?
                        .start(collector.sender()?)?,
                )
            } else {
                None
            };
            for (i, w) in loops.iter().enumerate() {
                let secs = w.time(w.count)?;
                if probe_on {
                    with[i].push(secs);
                } else {
                    without[i].push(secs);
                }
            }
            if let Some(live) = live {
                let s = live.stop().await?;
                stored += s.events;
                dropped += s.drops;
            }
        }
    }
    collector.finish().await?;
    let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 1.0 };
    let timings: Vec<LoopTiming> = loops
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let cpu = |v: &[Sample]| median(v.iter().map(|s| s.cpu).collect());
            let wall = |v: &[Sample]| median(v.iter().map(|s| s.wall).collect());
            let (a, b) = (cpu(&with[i]), cpu(&without[i]));
            let (wa, wb) = (wall(&with[i]), wall(&without[i]));
            LoopTiming {
                name: w.name.to_string(),
                count: w.count,
                events: w.events,
                cpu_seconds_without: b,
                cpu_seconds_with: a,
                ratio: ratio(a, b),
                wall_seconds_without: wb,
                wall_seconds_with: wa,
                wall_ratio: ratio(wa, wb),
            }
        })
        .collect();
    let group = |events: bool| {
        let (a, b) = timings
            .iter()
            .filter(|t| t.events == events)
            .fold((0.0, 0.0), |(a, b), t| {
                (a + t.cpu_seconds_with, b + t.cpu_seconds_without)
            });
        ratio(a, b)
    };
    let report = ProbeBenchReport {
        attach_mode,
        rounds: args.probe_rounds,
        filtered_ratio: group(false),
        events_ratio: group(true),
        loops: timings,
        events_stored: stored,
        events_dropped: dropped,
        target_ratio: 1.05,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn print_report(r: &ProbeBenchReport) {
    let pct = |x: f64| (x - 1.0) * 100.0;
    println!("{}", r.attach_mode);
    println!(
        "{} rounds each way, alternating; medians. Events stored {}, dropped {} (stored + dropped = generated)",
        r.rounds, r.events_stored, r.events_dropped
    );
    println!("CPU time of the loop's processes (user + system); wall time for reference");
    println!("loop                              kernel   cpu without    cpu with   slowdown   wall slowdown");
    for t in &r.loops {
        println!(
            "{:<32} {:>8} {:>11.3} s {:>9.3} s {:>8.1} % {:>13.1} %",
            format!("{} × {}", t.name, t.count),
            if t.events { "event" } else { "filtered" },
            t.cpu_seconds_without,
            t.cpu_seconds_with,
            pct(t.ratio),
            pct(t.wall_ratio)
        );
    }
    println!(
        "normal workload (filtered loops)  slowdown {:>6.1} %   (target ≤ 5 %)",
        pct(r.filtered_ratio)
    );
    println!(
        "every operation an event          slowdown {:>6.1} %   (worst case)",
        pct(r.events_ratio)
    );
}

/// One timed loop, prepared before fork (the child only makes system calls).
struct Workload {
    name: &'static str,
    events: bool,
    procs: CString,
    what: Loop,
    count: u64,
}

/// One timed run of a loop.
#[derive(Debug, Clone, Copy)]
struct Sample {
    wall: f64,
    cpu: f64,
}

enum Loop {
    Exec(CString),
    Open(CString),
}

impl Workload {
    fn new(name: &'static str, events: bool, procs: &CString, what: Loop, count: u64) -> Workload {
        Workload {
            name,
            events,
            procs: procs.clone(),
            what,
            count,
        }
    }

    /// Wall and CPU seconds of `n` iterations in a child in the bench cgroup.
    fn time(&self, n: u64) -> Result<Sample> {
        tokio::task::block_in_place(|| run_child(self, n))
    }
}

/// Forks a child that joins the cgroup and runs the loop; returns its wall time.
fn run_child(work: &Workload, n: u64) -> Result<Sample> {
    let exe = match &work.what {
        Loop::Exec(p) | Loop::Open(p) => p,
    };
    let argv: [*const libc::c_char; 2] = [exe.as_ptr(), std::ptr::null()];
    let envp: [*const libc::c_char; 1] = [std::ptr::null()];
    let start = Instant::now();
    // SAFETY: fork has no preconditions. The child only makes async-signal-safe system
    // calls (open, write, close, fork, execve, waitpid, _exit) on memory prepared before
    // the fork, so the parent's other threads and locks do not matter.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        bail!("fork failed: {}", std::io::Error::last_os_error());
    }
    if pid == 0 {
        // SAFETY: see above; every pointer is a valid NUL-terminated string or null.
        unsafe { child(work, n, &argv, &envp) }
    }
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value (integers and timevals).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child; status and usage are valid out pointers. The
    // usage covers the child and the grandchildren it waited for.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let wall = start.elapsed().as_secs_f64();
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu = tv(usage.ru_utime) + tv(usage.ru_stime);
    if rc != pid {
        bail!("waitpid: {}", std::io::Error::last_os_error());
    }
    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
        bail!(
            "the bench workload failed (status {status:#x}: 10 = cannot join the cgroup, 11 = fork failed, 12 = exec failed)"
        );
    }
    Ok(Sample { wall, cpu })
}

/// The forked bench child. Exit codes: 0 ok, 10 cgroup join failed, 11 fork failed,
/// 12 a grandchild's exec failed.
///
/// # Safety
/// Only to be called in a freshly forked child; pointers must be valid.
unsafe fn child(
    work: &Workload,
    n: u64,
    argv: &[*const libc::c_char; 2],
    envp: &[*const libc::c_char; 1],
) -> ! {
    // SAFETY (whole body): raw system calls on valid NUL-terminated strings and arrays.
    unsafe {
        let fd = libc::open(work.procs.as_ptr(), libc::O_WRONLY);
        if fd < 0 || libc::write(fd, c"0".as_ptr().cast(), 1) != 1 {
            libc::_exit(10);
        }
        libc::close(fd);
        match &work.what {
            Loop::Exec(exe) => {
                for _ in 0..n {
                    let pid = libc::fork();
                    if pid < 0 {
                        libc::_exit(11);
                    }
                    if pid == 0 {
                        libc::execve(exe.as_ptr(), argv.as_ptr(), envp.as_ptr());
                        libc::_exit(12);
                    }
                    let mut status = 0;
                    libc::waitpid(pid, &mut status, 0);
                    if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
                        libc::_exit(12);
                    }
                }
            }
            Loop::Open(path) => {
                for _ in 0..n {
                    let fd = libc::open(path.as_ptr(), libc::O_RDONLY);
                    if fd >= 0 {
                        libc::close(fd);
                    }
                }
            }
        }
        libc::_exit(0);
    }
}

fn cstring(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_encoded_bytes())
        .with_context(|| format!("{} contains a NUL byte", p.display()))
}

/// A cgroup `<cgroup2>/conanchor-bench-<pid>`, removed on drop.
struct BenchCgroup {
    dir: PathBuf,
    id: u64,
}

impl BenchCgroup {
    fn new() -> Result<BenchCgroup> {
        let root = cgroup2_mount().context("bench --probe needs a cgroup v2 mount")?;
        let dir = root.join(format!("conanchor-bench-{}", std::process::id()));
        std::fs::create_dir(&dir)
            .with_context(|| format!("creating the bench cgroup {} (root?)", dir.display()))?;
        let id = std::fs::metadata(&dir)
            .with_context(|| format!("stat {}", dir.display()))?
            .ino();
        Ok(BenchCgroup { dir, id })
    }
}

impl Drop for BenchCgroup {
    fn drop(&mut self) {
        // the children have exited (waited for), so the cgroup is empty
        if let Err(e) = std::fs::remove_dir(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "removing the bench cgroup");
        }
    }
}

/// A file under /var/run/secrets/ (the directory created if missing), removed on drop
/// with whatever was created for it.
struct SecretFile {
    path: PathBuf,
    created_dir: bool,
}

impl SecretFile {
    fn create() -> Result<SecretFile> {
        let dir = Path::new(SECRETS_DIR);
        let created_dir = !dir.exists();
        if created_dir {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {SECRETS_DIR}"))?;
        }
        let path = dir.join(format!("conanchor-bench-{}", std::process::id()));
        std::fs::write(&path, b"bench").with_context(|| format!("creating {}", path.display()))?;
        Ok(SecretFile { path, created_dir })
    }
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        if self.created_dir {
            let _ = std::fs::remove_dir(SECRETS_DIR);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_of_rounds() {
        assert_eq!(median(vec![]), 0.0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    }
}
