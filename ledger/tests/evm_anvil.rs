//! The EVM ledger against a real anvil node started by each test on a free loopback port.
//!
//! Skips with a visible `SKIP:` line when anvil is missing; with `CONANCHOR_REQUIRE_ANVIL=1`
//! (set by `.ci/run`) a missing anvil fails instead. anvil is looked up in
//! `CONANCHOR_ANVIL`, then `tools/bin/anvil` (`scripts/dev/install-tools.sh anvil`), then
//! `PATH`.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use conanchor_ledger::evm::{self, EvmConfig, EvmLedger, GasMode, SecretKey};
use conanchor_ledger::{Ledger, LedgerError};
use conanchor_store::{merkle_root, BatchHeader, Event, Hash32};

// ---------------------------------------------------------------- harness

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn find_anvil() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CONANCHOR_ANVIL").filter(|p| !p.is_empty()) {
        // An explicit choice is final: a wrong path is "not found", not a fallback.
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let root = workspace_root();
    for rel in [
        "tools/bin/anvil",
        "tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil",
        "tools/node_modules/.bin/anvil",
    ] {
        let p = root.join(rel);
        if p.is_file() {
            return Some(p);
        }
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("anvil"))
            .find(|p| p.is_file())
    })
}

/// anvil's path, or `None` after printing why the test skips.
fn anvil_or_skip(test: &str) -> Option<PathBuf> {
    if let Some(p) = find_anvil() {
        return Some(p);
    }
    if std::env::var("CONANCHOR_REQUIRE_ANVIL").as_deref() == Ok("1") {
        panic!("{test}: anvil not found and CONANCHOR_REQUIRE_ANVIL=1; install it with scripts/dev/install-tools.sh anvil or set CONANCHOR_ANVIL");
    }
    // Straight to the stderr stream: libtest hides `eprintln!` of passing tests.
    let _ = writeln!(
        std::io::stderr().lock(),
        "SKIP: {test}: anvil not found (set CONANCHOR_ANVIL or install it with scripts/dev/install-tools.sh anvil)"
    );
    None
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A running anvil; stopped (state saved) on drop.
struct Anvil {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    args: Vec<String>,
    child: Option<Child>,
}

impl Anvil {
    fn start(bin: &Path, extra: &[&str]) -> Anvil {
        let mut anvil = Anvil {
            bin: bin.to_path_buf(),
            dir: tempfile::tempdir().unwrap(),
            port: free_port(),
            args: extra.iter().map(|s| s.to_string()).collect(),
            child: None,
        };
        anvil.spawn();
        anvil
    }

    fn state_file(&self) -> PathBuf {
        self.dir.path().join("state.json")
    }

    fn config_file(&self) -> PathBuf {
        self.dir.path().join("config.json")
    }

    fn spawn(&mut self) {
        let child = Command::new(&self.bin)
            .args([
                "--host",
                "127.0.0.1",
                "--port",
                &self.port.to_string(),
                "--silent",
            ])
            .arg("--state")
            .arg(self.state_file())
            .arg("--config-out")
            .arg(self.config_file())
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start anvil");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "anvil did not listen on {}",
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM and wait: anvil writes its state file on the way out.
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // SAFETY: plain kill(2) on the pid of a child we spawned and have not reaped yet.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while child.try_wait().ok().flatten().is_none() {
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("anvil did not stop on SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(self.state_file().exists(), "anvil saved its state");
    }

    fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// anvil's i-th dev account key, read from its `--config-out` file (never printed).
    fn key(&self, i: usize) -> SecretKey {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(text) = std::fs::read_to_string(self.config_file()) {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                    if let Some(k) = v["private_keys"][i].as_str() {
                        return SecretKey::new(k);
                    }
                }
            }
            assert!(Instant::now() < deadline, "anvil wrote no config");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn config(&self, key: Option<SecretKey>) -> EvmConfig {
        let mut cfg = EvmConfig::new(self.url());
        cfg.private_key = key;
        cfg.receipt_timeout = Duration::from_secs(20);
        cfg.poll_interval = Duration::from_millis(50);
        cfg
    }

    /// Deploys a registry with key 0 and connects to it with `key`.
    async fn deploy_and_connect(&self, key: usize) -> (String, EvmLedger) {
        let address = evm::deploy(&self.config(Some(self.key(0)))).await.unwrap();
        let cfg = self
            .config(Some(self.key(key)))
            .with_contract(address.to_string());
        (address.to_string(), EvmLedger::connect(cfg).await.unwrap())
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------- evidence

/// `n` sealed batches of `per_batch` real events each, chained by hash, from batch 1.
fn sealed_batches(cid: &str, n: u64, per_batch: u64) -> Vec<BatchHeader> {
    let mut prev = Hash32::ZERO;
    let mut out = Vec::new();
    for id in 1..=n {
        let seqs = (id - 1) * per_batch + 1..=id * per_batch;
        let events: Vec<Event> = seqs
            .clone()
            .map(|s| Event {
                global_seq: s * 3 + 1,
                container_seq: s,
                timestamp_ns: 1_710_000_000_000_000_000 + s * 1_000,
                event_type: "exec".into(),
                pid: 1000 + s as u32,
                tgid: 1000 + s as u32,
                comm: "wget".into(),
                path: "/usr/bin/wget".into(),
                cgroup_id: "49396".into(),
                container_id: cid.into(),
                container_instance_id: cid.into(),
                risk: "high".into(),
                policy: "wget-exec".into(),
                ..Event::default()
            })
            .collect();
        let leaves: Vec<Hash32> = events.iter().map(Event::leaf_hash).collect();
        let mut h = BatchHeader {
            container_instance_id: cid.into(),
            container_batch_id: id,
            first_container_seq: events[0].container_seq,
            last_container_seq: events[events.len() - 1].container_seq,
            first_global_seq: events[0].global_seq,
            last_global_seq: events[events.len() - 1].global_seq,
            event_count: events.len() as u64,
            dropped_event_count: id % 3,
            start_time_ns: events[0].timestamp_ns,
            end_time_ns: events[events.len() - 1].timestamp_ns,
            previous_container_batch_hash: prev,
            merkle_root: merkle_root(&leaves).unwrap(),
            container_batch_hash: Hash32::ZERO,
            collector_id: "collector-1".into(),
        };
        h.container_batch_hash = h.compute_hash();
        prev = h.container_batch_hash;
        out.push(h);
    }
    out
}

/// A 64-hex container instance id, as the runtime gives.
fn cid(name: &str) -> String {
    Hash32::sha256(name.as_bytes()).to_hex()
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn deploys_anchors_three_containers_and_reads_every_anchor_back() {
    let Some(bin) = anvil_or_skip("deploys_anchors_three_containers") else {
        return;
    };
    let anvil = Anvil::start(&bin, &[]);
    let (address, ledger) = anvil.deploy_and_connect(0).await;

    let status = ledger.status().await.unwrap();
    assert_eq!(status.backend, "evm");
    assert_eq!(status.chain_id, Some(31337));
    let detail = |k: &str| {
        status
            .details
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(detail("contract"), address);
    assert!(
        detail("code").contains("matches contracts/out"),
        "{status:?}"
    );
    assert_eq!(
        detail("signer authorized"),
        "yes",
        "the deploying key may anchor"
    );

    // A second collector, authorized by the owner, anchors one of the containers.
    let collector = EvmLedger::connect(anvil.config(Some(anvil.key(1))).with_contract(&address))
        .await
        .unwrap();
    ledger
        .authorize(collector.signer_address().unwrap())
        .await
        .unwrap();

    let containers = [cid("alpha"), cid("beta"), cid("gamma")];
    let chains: Vec<Vec<BatchHeader>> = containers
        .iter()
        .map(|c| sealed_batches(c, 20, 10))
        .collect();
    // Interleave the containers, 6 batches per call, as the anchorer's outbox does.
    let mut all: Vec<BatchHeader> = Vec::new();
    for i in 0..20 {
        all.extend(chains[..2].iter().map(|c| c[i].clone()));
    }
    for call in all.chunks(6) {
        let receipts = ledger.anchor(call).await.unwrap();
        assert_eq!(receipts.len(), call.len());
        for (r, b) in receipts.iter().zip(call) {
            assert_eq!(r.container_instance_id, b.container_instance_id);
            assert_eq!(r.container_batch_id, b.container_batch_id);
            assert!(r.tx_id.starts_with("0x") && r.block_height > 0, "{r:?}");
        }
    }
    let receipts = collector.anchor(&chains[2]).await.unwrap();
    assert_eq!(receipts.len(), 20);

    // A fresh connection (nothing cached) reads everything back from the chain.
    let reader = EvmLedger::connect(anvil.config(None).with_contract(&address))
        .await
        .unwrap();
    let mut sorted = containers.to_vec();
    sorted.sort();
    assert_eq!(reader.list_containers().await.unwrap(), sorted);
    for (c, chain) in containers.iter().zip(&chains) {
        let anchors = reader.list_anchors(c).await.unwrap();
        assert_eq!(anchors.len(), 20);
        for (a, sent) in anchors.iter().zip(chain) {
            assert_eq!(&a.header, sent, "anchor read back equals what was sent");
            assert!(a.tx_id.is_some() && a.block_height.is_some());
        }
        for sent in chain {
            let got = reader
                .get_anchor(c, sent.container_batch_id)
                .await
                .unwrap()
                .expect("anchor present");
            assert_eq!(&got.header, sent);
        }
        assert!(reader.get_anchor(c, 21).await.unwrap().is_none());
        let head = reader.container_head(c).await.unwrap().unwrap();
        assert_eq!(head.container_batch_id, 20);
        assert_eq!(head.container_batch_hash, chain[19].container_batch_hash);
    }
    assert!(reader.get_anchor("unknown", 1).await.unwrap().is_none());
    assert!(reader.container_head("unknown").await.unwrap().is_none());
    let check = reader.verify_chain().await.unwrap();
    assert!(check.is_valid(), "{:?}", check.problems);
    assert_eq!(check.blocks_checked, 60);
    assert_eq!(reader.status().await.unwrap().anchor_count, 60);
}

#[tokio::test]
async fn an_unauthorized_key_is_rejected() {
    let Some(bin) = anvil_or_skip("an_unauthorized_key_is_rejected") else {
        return;
    };
    let anvil = Anvil::start(&bin, &[]);
    let (address, owner) = anvil.deploy_and_connect(0).await;
    let stranger = EvmLedger::connect(anvil.config(Some(anvil.key(2))).with_contract(&address))
        .await
        .unwrap();
    let batches = sealed_batches(&cid("c"), 2, 4);

    let err = stranger.anchor(&batches).await.unwrap_err();
    assert!(matches!(err, LedgerError::Config(_)), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("not authorized") && msg.contains("ledger authorize"),
        "{msg}"
    );
    assert!(
        !err.is_transient(),
        "the anchorer must not treat it as an outage"
    );

    // Nor may a non-owner authorize itself.
    let err = stranger
        .authorize(stranger.signer_address().unwrap())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("owner"), "{err}");

    let status = stranger.status().await.unwrap();
    assert!(status
        .details
        .iter()
        .any(|(k, v)| k == "signer authorized" && v.starts_with("no")));

    // Once the owner authorizes it, the same call goes through; revoked, it fails again.
    owner
        .authorize(stranger.signer_address().unwrap())
        .await
        .unwrap();
    stranger.anchor(&batches[..1]).await.unwrap();
    owner
        .set_collector(stranger.signer_address().unwrap(), false)
        .await
        .unwrap();
    assert!(stranger.anchor(&batches[1..]).await.is_err());
    assert_eq!(owner.list_anchors(&cid("c")).await.unwrap().len(), 1);
}

#[tokio::test]
async fn reanchoring_is_idempotent_and_an_anchor_is_never_overwritten() {
    let Some(bin) = anvil_or_skip("reanchoring_is_idempotent") else {
        return;
    };
    let anvil = Anvil::start(&bin, &[]);
    let (_, ledger) = anvil.deploy_and_connect(0).await;
    let c = cid("idempotent");
    let batches = sealed_batches(&c, 5, 3);

    let first = ledger.anchor(&batches[..3]).await.unwrap();
    // Same batches again (a retry after a crash): the existing receipts, no new transaction.
    let again = ledger.anchor(&batches[..3]).await.unwrap();
    assert_eq!(first, again);
    // Old and new together: the old ones keep their receipts, the new ones are sent.
    let mixed = ledger.anchor(&batches[1..5]).await.unwrap();
    assert_eq!(mixed[..2], first[1..]);
    assert_ne!(mixed[2].tx_id, first[0].tx_id);

    // Batch 2 with other content (and a matching hash) is refused: Conflict.
    let mut forged = batches[1].clone();
    forged.merkle_root = Hash32::sha256(b"forged");
    forged.container_batch_hash = forged.compute_hash();
    let err = ledger.anchor(&[forged.clone()]).await.unwrap_err();
    match &err {
        LedgerError::Conflict {
            container_batch_id,
            existing,
            offered,
            ..
        } => {
            assert_eq!(*container_batch_id, 2);
            assert_eq!(existing, &batches[1].container_batch_hash.to_hex());
            assert_eq!(offered, &forged.container_batch_hash.to_hex());
        }
        other => panic!("expected Conflict, got {other:?}"),
    }

    // The contract itself refuses what the client checks skip: overwrite, gap and fork.
    let err = ledger.anchor_unchecked(&[forged]).await.unwrap_err();
    assert!(
        err.to_string().contains("anchored head is batch 5"),
        "{err}"
    );
    let later = sealed_batches(&c, 8, 3);
    let err = ledger
        .anchor_unchecked(&[later[7].clone()])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("only batch 6"), "{err}");
    let mut fork = later[5].clone();
    fork.previous_container_batch_hash = Hash32::sha256(b"elsewhere");
    fork.container_batch_hash = fork.compute_hash();
    let err = ledger.anchor_unchecked(&[fork.clone()]).await.unwrap_err();
    assert!(
        err.to_string().contains("previous_container_batch_hash"),
        "{err}"
    );
    // … and the client says the same before spending gas.
    let err = ledger.anchor(&[fork]).await.unwrap_err();
    assert!(err.to_string().contains("does not extend"), "{err}");
    let err = ledger.anchor(&[later[7].clone()]).await.unwrap_err();
    assert!(err.to_string().contains("gap"), "{err}");
    // A header whose hash does not match its fields is never sent.
    let mut bad = later[5].clone();
    bad.event_count += 1;
    let err = ledger.anchor(&[bad]).await.unwrap_err();
    assert!(
        err.to_string().contains("not the hash of its fields"),
        "{err}"
    );

    let anchors = ledger.list_anchors(&c).await.unwrap();
    assert_eq!(
        anchors.iter().map(|a| &a.header).collect::<Vec<_>>(),
        batches.iter().collect::<Vec<_>>()
    );
    assert!(ledger.verify_chain().await.unwrap().is_valid());
}

#[tokio::test]
async fn the_contract_head_catches_a_rolled_back_tail() {
    let Some(bin) = anvil_or_skip("the_contract_head_catches_a_rolled_back_tail") else {
        return;
    };
    let anvil = Anvil::start(&bin, &[]);
    let (address, ledger) = anvil.deploy_and_connect(0).await;
    let c = cid("rollback");
    let batches = sealed_batches(&c, 20, 5);
    ledger.anchor(&batches).await.unwrap();

    // An attacker rolls the store back to batch 17: the evidence ends there, and on its own
    // it is a consistent chain. The registry's head still says 20.
    let store_tail = &batches[..17];
    let reader = EvmLedger::connect(anvil.config(None).with_contract(&address))
        .await
        .unwrap();
    let head = reader.container_head(&c).await.unwrap().unwrap();
    assert_eq!(head.container_batch_id, 20);
    assert_eq!(head.container_batch_hash, batches[19].container_batch_hash);
    assert!(head.container_batch_id > store_tail.last().unwrap().container_batch_id);
    let missing: Vec<u64> = reader
        .list_anchors(&c)
        .await
        .unwrap()
        .iter()
        .map(|a| a.header.container_batch_id)
        .filter(|id| !store_tail.iter().any(|b| b.container_batch_id == *id))
        .collect();
    assert_eq!(missing, vec![18, 19, 20]);
    // Re-anchoring the rolled-back chain's last batch changes nothing.
    assert_eq!(ledger.anchor(&store_tail[16..]).await.unwrap().len(), 1);
    assert_eq!(
        reader
            .container_head(&c)
            .await
            .unwrap()
            .unwrap()
            .container_batch_id,
        20
    );
}

#[tokio::test]
async fn gas_per_batch_meets_the_targets() {
    let Some(bin) = anvil_or_skip("gas_per_batch_meets_the_targets") else {
        return;
    };
    let anvil = Anvil::start(&bin, &[]);
    let (_, ledger) = anvil.deploy_and_connect(0).await;
    let one = evm::measure_gas(&ledger, 1).await.unwrap();
    let many = evm::measure_gas(&ledger, 64).await.unwrap();
    eprintln!(
        "gas per batch (64-hex container id): 1/tx: {} for a new container, {} after; 64/tx: {} new, {} after",
        one.first_per_batch(),
        one.per_batch(),
        many.first_per_batch(),
        many.per_batch()
    );
    // Gas is counted, not timed: deterministic for this contract and batch shape.
    assert!(one.first_per_batch() <= 60_000, "{one:?}");
    assert!(one.per_batch() <= 60_000, "{one:?}");
    assert!(many.first_per_batch() <= 25_000, "{many:?}");
    assert!(many.per_batch() <= 25_000, "{many:?}");
    assert!(ledger.verify_chain().await.unwrap().is_valid());
}

#[tokio::test]
async fn an_outage_is_transient_and_anchoring_resumes_with_the_state_kept() {
    let Some(bin) = anvil_or_skip("an_outage_is_transient") else {
        return;
    };
    let mut anvil = Anvil::start(&bin, &[]);
    let (address, ledger) = anvil.deploy_and_connect(0).await;
    let c = cid("outage");
    let batches = sealed_batches(&c, 12, 4);
    ledger.anchor(&batches[..4]).await.unwrap();

    anvil.stop();
    let err = ledger.anchor(&batches[4..8]).await.unwrap_err();
    assert!(
        matches!(err, LedgerError::Unreachable { .. }),
        "expected Unreachable, got {err:?}"
    );
    assert!(err.is_transient(), "the anchorer retries it");
    assert!(ledger.list_anchors(&c).await.unwrap_err().is_transient());

    anvil.restart();
    // The pending batches and the ones sealed meanwhile all go through.
    let receipts = ledger.anchor(&batches[4..]).await.unwrap();
    assert_eq!(receipts.len(), 8);
    let fresh = EvmLedger::connect(anvil.config(None).with_contract(&address))
        .await
        .unwrap();
    let anchors = fresh.list_anchors(&c).await.unwrap();
    assert_eq!(
        anchors.iter().map(|a| &a.header).collect::<Vec<_>>(),
        batches.iter().collect::<Vec<_>>()
    );
    assert!(fresh.verify_chain().await.unwrap().is_valid());
}

#[tokio::test]
async fn a_london_node_without_automine_and_legacy_gas() {
    let Some(bin) = anvil_or_skip("a_london_node_without_automine") else {
        return;
    };
    // Blocks every second, no PUSH0 (london), type-0 transactions.
    let anvil = Anvil::start(&bin, &["--hardfork", "london", "--block-time", "1"]);
    let mut cfg = anvil.config(Some(anvil.key(0)));
    cfg.gas_mode = GasMode::Legacy;
    let address = evm::deploy(&cfg).await.unwrap();
    let ledger = EvmLedger::connect(cfg.with_contract(address.to_string()))
        .await
        .unwrap();
    let c = cid("london");
    let batches = sealed_batches(&c, 4, 2);
    let receipts = ledger.anchor(&batches).await.unwrap();
    assert_eq!(receipts.len(), 4);
    assert_eq!(ledger.list_anchors(&c).await.unwrap().len(), 4);
}

#[tokio::test]
async fn a_free_gas_network_with_unfunded_accounts() {
    let Some(bin) = anvil_or_skip("a_free_gas_network") else {
        return;
    };
    let anvil = Anvil::start(
        &bin,
        &[
            "--balance",
            "0",
            "--block-base-fee-per-gas",
            "0",
            "--gas-price",
            "0",
            "--disable-min-priority-fee",
        ],
    );
    let (_, ledger) = anvil.deploy_and_connect(0).await;
    let c = cid("free");
    ledger.anchor(&sealed_batches(&c, 3, 2)).await.unwrap();
    assert_eq!(ledger.list_anchors(&c).await.unwrap().len(), 3);
}

#[tokio::test]
async fn connection_errors_say_what_to_fix() {
    let Some(bin) = anvil_or_skip("connection_errors_say_what_to_fix") else {
        return;
    };
    let anvil = Anvil::start(&bin, &[]);
    let (address, _) = anvil.deploy_and_connect(0).await;

    let err = EvmLedger::connect(anvil.config(None).with_contract(&address).with_chain_id(5))
        .await
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("wrong chain id") && err.to_string().contains("31337"),
        "{err}"
    );
    assert!(EvmLedger::connect(
        anvil
            .config(None)
            .with_contract(&address)
            .with_chain_id(31337)
    )
    .await
    .is_ok());

    let nowhere = "0x000000000000000000000000000000000000dEaD";
    let err = EvmLedger::connect(anvil.config(None).with_contract(nowhere))
        .await
        .err()
        .unwrap();
    assert!(err.to_string().contains("no contract code"), "{err}");

    let err = EvmLedger::connect(anvil.config(None)).await.err().unwrap();
    assert!(err.to_string().contains("ledger deploy"), "{err}");

    let down = format!("http://127.0.0.1:{}", free_port());
    let err = EvmLedger::connect(EvmConfig::new(down).with_contract(&address))
        .await
        .err()
        .unwrap();
    assert!(matches!(err, LedgerError::Unreachable { .. }), "{err:?}");

    let read_only = EvmLedger::connect(anvil.config(None).with_contract(&address))
        .await
        .unwrap();
    let err = read_only
        .anchor(&sealed_batches(&cid("x"), 1, 1))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("CONANCHOR_BESU_PRIVATE_KEY"),
        "{err}"
    );

    let mut bad_key = anvil.config(None).with_contract(&address);
    bad_key.private_key = Some(SecretKey::new("0x1234"));
    let err = EvmLedger::connect(bad_key).await.err().unwrap();
    assert!(err.to_string().contains("not a 32-byte hex"), "{err}");
    assert!(!err.to_string().contains("1234"), "the key is never echoed");
}

async fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The anchorer drains a real store's outbox onto the EVM ledger; while the node is down
/// collection goes on, the outbox grows, and after the restart every batch is anchored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_anchorer_rides_out_a_node_outage_without_losing_a_batch() {
    use std::sync::Arc;

    use conanchor_ledger::anchorer::{self, AnchorerConfig};
    use conanchor_store::{Store, Writer, WriterConfig};

    let Some(bin) = anvil_or_skip("the_anchorer_rides_out_a_node_outage") else {
        return;
    };
    let mut anvil = Anvil::start(&bin, &[]);
    let (_, ledger) = anvil.deploy_and_connect(0).await;
    let ledger = Arc::new(ledger);
    let data = tempfile::tempdir().unwrap();
    let mut writer = Writer::open(
        Store::create(data.path()).unwrap(),
        WriterConfig {
            batch_size: 5,
            collector_id: "collector-1".into(),
        },
    )
    .unwrap();
    let (handle, task) = anchorer::spawn(
        data.path().to_path_buf(),
        ledger.clone(),
        AnchorerConfig {
            max_batches_per_call: 64,
            idle_poll: Duration::from_millis(100),
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(400),
        },
    );
    let containers = [cid("outbox-a"), cid("outbox-b")];
    let mut ts = 1_710_000_000_000_000_000u64;
    let mut collect = |writer: &mut Writer, n: usize| {
        for i in 0..n {
            ts += 1_000;
            let c = &containers[i % 2];
            writer
                .append(Event {
                    timestamp_ns: ts,
                    event_type: "exec".into(),
                    comm: "wget".into(),
                    path: "/usr/bin/wget".into(),
                    cgroup_id: "49396".into(),
                    container_id: c.clone(),
                    container_instance_id: c.clone(),
                    risk: "high".into(),
                    policy: "wget-exec".into(),
                    ..Event::default()
                })
                .unwrap();
        }
        writer.commit(ts).unwrap();
        handle.kick();
    };
    let pending = |dir: &Path| {
        Store::open_existing(dir)
            .unwrap()
            .stats()
            .unwrap()
            .pending_anchors
    };
    collect(&mut writer, 50); // 5 batches per container
    wait_until("the first batches are anchored", || {
        pending(data.path()) == 0
    })
    .await;

    anvil.stop();
    collect(&mut writer, 50);
    wait_until("the anchorer notices the outage", || {
        handle.stats().consecutive_failures >= 2
    })
    .await;
    let stats = handle.stats();
    assert!(
        stats
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("unreachable"),
        "{stats:?}"
    );
    collect(&mut writer, 20);
    assert_eq!(
        pending(data.path()),
        14,
        "collection went on; the outbox grew"
    );

    anvil.restart();
    wait_until("every pending batch is anchored", || {
        pending(data.path()) == 0
    })
    .await;
    handle.drain();
    task.await.unwrap().unwrap();

    for c in &containers {
        let anchors = ledger.list_anchors(c).await.unwrap();
        let ids: Vec<u64> = anchors
            .iter()
            .map(|a| a.header.container_batch_id)
            .collect();
        assert_eq!(
            ids,
            (1..=12).collect::<Vec<_>>(),
            "nothing lost, nothing doubled"
        );
        assert_eq!(
            ledger
                .container_head(c)
                .await
                .unwrap()
                .unwrap()
                .container_batch_id,
            12
        );
    }
    assert!(ledger.verify_chain().await.unwrap().is_valid());
}
