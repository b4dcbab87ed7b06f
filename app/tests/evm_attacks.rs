//! Every store attack of the attack lab is caught with the EVM ledger too: a real anvil
//! node, a deployed AnchorRegistry, the real binary. (tamper-ledger edits the mock chain
//! file and has no EVM counterpart: the chain is the node's.)

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

fn find_anvil() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CONANCHOR_ANVIL").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    [
        "tools/bin/anvil",
        "tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil",
    ]
    .iter()
    .map(|r| root.join(r))
    .find(|p| p.is_file())
    .or_else(|| {
        std::env::split_paths(&std::env::var_os("PATH")?)
            .map(|d| d.join("anvil"))
            .find(|p| p.is_file())
    })
}

struct Anvil {
    child: Child,
    url: String,
    key_file: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_anvil() -> Option<Anvil> {
    let Some(bin) = find_anvil() else {
        if std::env::var("CONANCHOR_REQUIRE_ANVIL").as_deref() == Ok("1") {
            panic!("anvil not found and CONANCHOR_REQUIRE_ANVIL=1: run scripts/dev/install-tools.sh anvil");
        }
        eprintln!("SKIP: evm attacks: anvil not found (scripts/dev/install-tools.sh anvil)");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("config.json");
    let child = Command::new(bin)
        .args([
            "--host",
            "127.0.0.1",
            "--port",
            &port.to_string(),
            "--silent",
            "--config-out",
        ])
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("anvil starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() || !config.is_file() {
        assert!(Instant::now() < deadline, "anvil did not come up");
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(200));
    let cfg: serde_json::Value = serde_json::from_slice(&std::fs::read(&config).unwrap()).unwrap();
    let key = cfg["private_keys"][0]
        .as_str()
        .expect("anvil dev key")
        .to_string();
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, key).unwrap();
    Some(Anvil {
        child,
        url: format!("http://127.0.0.1:{port}"),
        key_file,
        _dir: dir,
    })
}

#[test]
fn every_store_attack_is_caught_against_the_evm_ledger() {
    let Some(anvil) = start_anvil() else { return };
    let key = anvil.key_file.to_str().unwrap().to_string();
    let deploy = run(&[
        "ledger",
        "deploy",
        "--ledger-backend",
        "besu",
        "--besu-rpc-url",
        &anvil.url,
        "--besu-key-file",
        &key,
    ]);
    assert_eq!(deploy.code, 0, "{}", deploy.stderr);
    let address = deploy.stdout.trim().to_string();
    let evm = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "--ledger-backend",
            "besu",
            "--besu-rpc-url",
            &anvil.url,
            "--besu-contract-address",
            &address,
            "--besu-key-file",
            &key,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let cases: &[(&str, &[&str])] = &[
        ("modify-log", &["MERKLE_ROOT_MISMATCH"]),
        (
            "delete-log",
            &[
                "EVENT_COUNT_MISMATCH",
                "MERKLE_ROOT_MISMATCH",
                "SEQUENCE_GAP",
            ],
        ),
        (
            "insert-log",
            &["EVENT_COUNT_MISMATCH", "MERKLE_ROOT_MISMATCH"],
        ),
        ("reorder-log", &["MERKLE_ROOT_MISMATCH"]),
        ("rollback-container", &["BATCH_MISSING"]),
        (
            "forge-batch",
            &[
                "ANCHOR_METADATA_MISMATCH",
                "BATCH_HASH_MISMATCH",
                "MERKLE_ROOT_MISMATCH",
            ],
        ),
    ];
    let tmp = tempfile::tempdir().unwrap();
    for (attack, expected) in cases {
        // A data dir and container ids of its own: the registry is shared.
        let dir = tmp.path().join(attack);
        let d = dir.to_str().unwrap();
        let cid = format!("{attack}-c");
        let mut args = vec![
            "generate",
            "--data-dir",
            d,
            "--container-id",
            &cid,
            "--count",
            "30",
            "--batch-size",
            "10",
            "--collector-id",
            attack,
        ];
        let extra = evm(&[]);
        args.extend(extra.iter().map(String::as_str));
        let g = run(&args);
        assert_eq!(g.code, 0, "{attack}: generate: {}", g.stderr);

        let verify = |d: &str| {
            let mut a = vec!["verify", "--data-dir", d, "--json"];
            let extra = evm(&[]);
            a.extend(extra.iter().map(String::as_str));
            let r = run(&a);
            (
                r.code,
                serde_json::from_str::<serde_json::Value>(&r.stdout).unwrap_or_default(),
                r.stderr,
            )
        };
        let (code, report, err) = verify(d);
        assert_eq!(
            code, 0,
            "{attack}: clean data must verify: {report:#} {err}"
        );
        assert_eq!(report["ledger_backend"], "evm");

        let a = run(&[
            "attack",
            "--data-dir",
            d,
            "--container-id",
            &cid,
            "--type",
            attack,
        ]);
        assert_eq!(a.code, 0, "{attack}: {}", a.stderr);
        let (code, report, err) = verify(d);
        assert_eq!(code, 1, "{attack}: {report:#} {err}");
        let mut types: Vec<String> = failures(&report).into_iter().map(|(_, t)| t).collect();
        types.sort();
        types.dedup();
        assert_eq!(types, expected.to_vec(), "{attack}");

        let r = run(&["attack", "--data-dir", d, "--restore", "all"]);
        assert_eq!(r.code, 0, "{attack}: restore: {}", r.stderr);
        let (code, report, _) = verify(d);
        assert_eq!(code, 0, "{attack}: after restore: {report:#}");
    }
}
