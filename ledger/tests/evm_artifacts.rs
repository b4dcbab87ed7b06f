//! The committed contract artifacts (`contracts/out`) are built from the committed source.
//!
//! Always: the source's SHA-256 recorded by `scripts/build-contracts.sh` matches
//! `contracts/AnchorRegistry.sol`, so an edit without a rebuild fails here. When the pinned
//! solc is installed (`scripts/dev/install-tools.sh solc`) or `CONANCHOR_REQUIRE_SOLC=1`:
//! the script rebuilds into a temp dir and every artifact must be byte-identical.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn meta() -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("contracts/out/AnchorRegistry.meta.json"))
        .expect("contracts/out/AnchorRegistry.meta.json is committed");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn artifacts_record_the_current_source() {
    let source = std::fs::read(root().join("contracts/AnchorRegistry.sol")).unwrap();
    let digest = alloy::primitives::hex::encode(Sha256::digest(&source));
    assert_eq!(
        meta()["source_sha256"].as_str(),
        Some(digest.as_str()),
        "contracts/out is stale: run scripts/build-contracts.sh and commit contracts/out"
    );
    assert_eq!(meta()["evm_version"], "london");
}

#[test]
fn artifacts_rebuild_byte_for_byte() {
    let solc = root().join("tools/node_modules/solc/package.json");
    let have_node = Command::new("node").arg("--version").output().is_ok();
    if !(solc.exists() && have_node) {
        if std::env::var("CONANCHOR_REQUIRE_SOLC").as_deref() == Ok("1") {
            panic!("solc not installed and CONANCHOR_REQUIRE_SOLC=1: run scripts/dev/install-tools.sh solc");
        }
        let _ = writeln!(
            std::io::stderr().lock(),
            "SKIP: artifacts_rebuild_byte_for_byte: solc not installed (scripts/dev/install-tools.sh solc)"
        );
        return;
    }
    let out = Command::new("bash")
        .arg(root().join("scripts/build-contracts.sh"))
        .arg("--check")
        .output()
        .expect("run scripts/build-contracts.sh --check");
    assert!(
        out.status.success(),
        "committed artifacts differ from a rebuild:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
