//! `conanchor-tui bench`: throughput and memory, measured in one run on this machine, with
//! the raw SHA-256 leaf-hash rate as the limit to compare against. `--source falco`: Falco
//! JSON lines from a file instead (see [`falco`]).

pub mod falco;

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Args;
use conanchor_ledger::{Ledger, MockChain};
use conanchor_store::encoding::{leaf_hash_with, EventFields};
use conanchor_store::Store;
use serde::Serialize;

use crate::cli::collect::wait_anchored;
use crate::sources::synthetic::{self, synthetic_event, Rng, SyntheticConfig, SyntheticContainer};
use crate::util::peak_rss_bytes;
use crate::verify::{self, LedgerView, VerifyOptions};

#[derive(Debug, Clone, Args)]
#[command(
    after_help = "Examples:\n  conanchor-tui bench --events 1000000\n  conanchor-tui bench --events 1000000 --scale 4 --json\n  conanchor-tui bench --tui --tui-rate 50000 --tui-seconds 10\n  sudo conanchor-tui bench --probe --probe-rounds 6\n  conanchor-tui bench --source falco --events 300000\n  conanchor-tui bench --source falco --input /var/log/falco/events.json"
)]
pub struct BenchArgs {
    /// Events to ingest and verify [default: 1000000; with --source falco: 300000 lines].
    #[arg(long)]
    pub events: Option<u64>,
    /// What to ingest: synthetic events, or Falco JSON lines (from --input, or written first).
    #[arg(long, value_parser = ["synthetic", "falco"], default_value = "synthetic")]
    pub source: String,
    /// With --source falco: a Falco JSON lines file to ingest (not modified).
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Containers the events are spread over.
    #[arg(long, default_value_t = 10)]
    pub containers: usize,
    #[arg(long, default_value_t = 1000)]
    pub batch_size: usize,
    /// Also grow the store to events × SCALE and verify again (linearity check).
    #[arg(long, default_value_t = 0)]
    pub scale: u64,
    /// Work in this directory instead of a temporary one (kept afterwards).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
    /// Measure the EVM ledger instead: gas per anchored batch at 1 and 64 batches per
    /// transaction (deploys a registry when --besu-contract-address is not given).
    #[arg(long, value_parser = ["evm"])]
    pub ledger: Option<String>,
    /// Measure the live probe instead: the slowdown of an exec loop and an open loop
    /// with the probe attached vs. without, alternating in the same run (root).
    #[arg(long)]
    pub probe: bool,
    /// bench --probe: fork + exec per loop and round.
    #[arg(long, default_value_t = 1000)]
    pub probe_execs: u64,
    /// bench --probe: open + close per loop and round.
    #[arg(long, default_value_t = 100_000)]
    pub probe_opens: u64,
    /// bench --probe: rounds with and rounds without the probe (medians are reported).
    #[arg(long, default_value_t = 5)]
    pub probe_rounds: usize,
    #[command(flatten)]
    pub ledger_args: crate::ledgers::LedgerArgs,
    /// Measure the workstation instead: events at --tui-rate for --tui-seconds through the
    /// embedded collector into its model, drawn at 160x45 (frame time p50/p99/max, peak RSS).
    #[arg(long)]
    pub tui: bool,
    /// Events per second over all containers for --tui.
    #[arg(long, default_value_t = 50_000)]
    pub tui_rate: u64,
    /// Seconds to run --tui.
    #[arg(long, default_value_t = 10.0)]
    pub tui_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct GasReport {
    pub batches_per_tx: usize,
    pub gas_per_batch_new_container: u64,
    pub gas_per_batch_existing_container: u64,
}

/// `bench --ledger evm`: gas per anchored batch, read from real receipts.
async fn bench_evm(args: &BenchArgs) -> Result<()> {
    use conanchor_ledger::evm::{self, EvmLedger};
    let mut cfg = args.ledger_args.evm_config(true)?;
    anyhow::ensure!(cfg.private_key.is_some(), "bench --ledger evm needs an authorized, funded key: --besu-key-file or CONANCHOR_BESU_PRIVATE_KEY");
    if cfg.contract_address.is_none() {
        let address = evm::deploy(&cfg).await?;
        cfg.contract_address = Some(format!("{address:#x}"));
    }
    let ledger = EvmLedger::connect(cfg).await?;
    let mut rows = Vec::new();
    for n in [1usize, 64] {
        let m = evm::measure_gas(&ledger, n).await?;
        rows.push(GasReport {
            batches_per_tx: n,
            gas_per_batch_new_container: m.first_per_batch(),
            gas_per_batch_existing_container: m.per_batch(),
        });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!("batches/tx  gas per batch (new container)  gas per batch (existing container)");
        for r in &rows {
            println!(
                "{:>10}  {:>29}  {:>34}",
                r.batches_per_tx, r.gas_per_batch_new_container, r.gas_per_batch_existing_container
            );
        }
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    pub events: u64,
    pub containers: usize,
    pub batch_size: usize,
    pub ingest_seconds: f64,
    pub ingest_events_per_sec: f64,
    pub verify_seconds: f64,
    pub verify_events_per_sec: f64,
    pub sha256_leaf_hashes_per_sec: f64,
    pub ingest_vs_sha256_limit: f64,
    pub verify_vs_sha256_limit: f64,
    pub peak_rss_bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scaled: Option<ScaledRun>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ScaledRun {
    pub events: u64,
    pub verify_seconds: f64,
    pub verify_events_per_sec: f64,
    /// verify time at `events` ÷ verify time at the base size (linear = the scale factor).
    pub time_ratio: f64,
    pub peak_rss_bytes: Option<u64>,
}

/// The machine's raw leaf-hash rate: canonical encoding + SHA-256 of typical events.
pub fn sha256_leaf_rate(n: u64) -> f64 {
    let c = &SyntheticContainer::kubernetes_like(1, 1)[0];
    let mut rng = Rng(3);
    let events: Vec<_> = (0..64).map(|i| synthetic_event(&mut rng, c, i)).collect();
    let mut buf = Vec::with_capacity(512);
    let start = Instant::now();
    let mut acc = 0u8;
    for i in 0..n {
        let h = leaf_hash_with(&EventFields::from(&events[(i % 64) as usize]), &mut buf);
        acc ^= h.0[0];
    }
    std::hint::black_box(acc);
    n as f64 / start.elapsed().as_secs_f64()
}

/// The collector every ingest bench runs: the mock ledger in `dir`, batches sealed by
/// size only, large group commits.
pub(crate) async fn bench_collector(
    dir: &std::path::Path,
    batch_size: usize,
) -> Result<crate::collector::Collector> {
    let ledger = crate::ledgers::LedgerArgs::default();
    let mut cfg =
        crate::pipeline::PipelineConfig::new(batch_size, Duration::from_secs(3600), "bench");
    cfg.commit_every = 16_384;
    crate::collector::Collector::start(dir, ledger.open(dir).await?, cfg).await
}

async fn ingest(
    dir: &std::path::Path,
    containers: &[SyntheticContainer],
    per_container: u64,
    batch_size: usize,
) -> Result<f64> {
    let start = Instant::now();
    let running = bench_collector(dir, batch_size).await?;
    let tx = running.sender()?;
    let source = synthetic::spawn(
        SyntheticConfig {
            containers: containers.to_vec(),
            rate: 0,
            count_per_container: Some(per_container),
            seed: 11,
        },
        tx,
        Arc::new(AtomicBool::new(false)),
    );
    tokio::task::spawn_blocking(move || source.join())
        .await?
        .map_err(|_| anyhow::anyhow!("source panicked"))?;
    running.finish().await?;
    wait_anchored(dir).await?;
    Ok(start.elapsed().as_secs_f64())
}

/// Where a bench writes its store: `--data-dir`, which must not hold one yet, or a temporary
/// directory that lives as long as the returned guard.
pub(crate) fn empty_bench_dir(
    data_dir: Option<&std::path::Path>,
) -> Result<(PathBuf, Option<tempfile::TempDir>)> {
    let (dir, tmp) = match data_dir {
        Some(d) => (d.to_path_buf(), None),
        None => {
            let tmp = tempfile::tempdir().context("creating a temporary directory")?;
            (tmp.path().to_path_buf(), Some(tmp))
        }
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    anyhow::ensure!(
        !Store::exists_in(&dir),
        "{} already holds a store; bench needs an empty directory",
        dir.display()
    );
    Ok((dir, tmp))
}

async fn verify_all(dir: &std::path::Path) -> Result<(f64, u64)> {
    let start = Instant::now();
    let chain = MockChain::open(&MockChain::path_in(dir))?;
    let view = LedgerView::fetch(&chain as &dyn Ledger, None).await?;
    let mut store = Store::open_existing(dir)?;
    let report = tokio::task::block_in_place(|| {
        verify::verify(&mut store, &view, &VerifyOptions::default(), &mut |_, _| {})
    })?;
    let secs = start.elapsed().as_secs_f64();
    anyhow::ensure!(
        !report.failed(),
        "bench evidence failed verification: {:?}",
        report.failure_types()
    );
    Ok((secs, report.verified_events))
}

pub async fn run(args: BenchArgs) -> Result<()> {
    if args.ledger.is_some() {
        return bench_evm(&args).await;
    }
    if args.probe {
        return crate::bench_probe::run(&args).await;
    }
    if args.tui {
        return crate::bench_tui::run(&args).await;
    }
    let events = args.events.unwrap_or(1_000_000);
    anyhow::ensure!(
        events > 0 && args.containers > 0 && args.batch_size > 0,
        "--events, --containers and --batch-size must be positive"
    );
    anyhow::ensure!(
        args.input.is_none() || args.source == "falco",
        "--input is for bench --source falco"
    );
    let (dir, _tmp) = empty_bench_dir(args.data_dir.as_deref())?;
    if args.source == "falco" {
        return falco::run(&args, &dir).await;
    }
    let containers = SyntheticContainer::kubernetes_like(args.containers, 5);
    let per = events.div_ceil(args.containers as u64);
    let total = per * args.containers as u64;
    if !args.json {
        eprintln!(
            "bench: ingesting {total} events over {} containers at batch size {} into {}",
            args.containers,
            args.batch_size,
            dir.display()
        );
    }
    let sha = sha256_leaf_rate(2_000_000);
    let ingest_secs = ingest(&dir, &containers, per, args.batch_size).await?;
    let (verify_secs, verified) = verify_all(&dir).await?;
    anyhow::ensure!(
        verified == total,
        "verified {verified} events, expected {total}"
    );
    let rss = peak_rss_bytes();
    let mut report = BenchReport {
        events: total,
        containers: args.containers,
        batch_size: args.batch_size,
        ingest_seconds: ingest_secs,
        ingest_events_per_sec: total as f64 / ingest_secs,
        verify_seconds: verify_secs,
        verify_events_per_sec: total as f64 / verify_secs,
        sha256_leaf_hashes_per_sec: sha,
        ingest_vs_sha256_limit: total as f64 / ingest_secs / sha,
        verify_vs_sha256_limit: total as f64 / verify_secs / sha,
        peak_rss_bytes: rss,
        scaled: None,
    };
    if args.scale > 1 {
        if !args.json {
            eprintln!(
                "bench: growing the store to {}× and verifying again",
                args.scale
            );
        }
        ingest(&dir, &containers, per * (args.scale - 1), args.batch_size).await?;
        let (secs, n) = verify_all(&dir).await?;
        report.scaled = Some(ScaledRun {
            events: n,
            verify_seconds: secs,
            verify_events_per_sec: n as f64 / secs,
            time_ratio: secs / verify_secs,
            peak_rss_bytes: peak_rss_bytes(),
        });
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn mb(b: Option<u64>) -> String {
    b.map_or("n/a".into(), |b| format!("{:.1} MB", b as f64 / 1e6))
}

fn print_report(r: &BenchReport) {
    println!("events                 {}", r.events);
    println!(
        "ingest (store+seal+anchor) {:>12.0} events/s  ({:.2} s)",
        r.ingest_events_per_sec, r.ingest_seconds
    );
    println!(
        "verify                 {:>12.0} events/s  ({:.2} s)",
        r.verify_events_per_sec, r.verify_seconds
    );
    println!(
        "sha-256 leaf limit     {:>12.0} hashes/s",
        r.sha256_leaf_hashes_per_sec
    );
    println!("ingest / limit         {:>12.3}", r.ingest_vs_sha256_limit);
    println!("verify / limit         {:>12.3}", r.verify_vs_sha256_limit);
    println!("peak RSS               {:>12}", mb(r.peak_rss_bytes));
    if let Some(s) = &r.scaled {
        println!(
            "verify at {} events   {:>12.0} events/s  ({:.2} s, {:.2}× the base time)",
            s.events, s.verify_events_per_sec, s.verify_seconds, s.time_ratio
        );
        println!("peak RSS after scaling {:>12}", mb(s.peak_rss_bytes));
    }
}
