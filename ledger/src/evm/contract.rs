//! The `AnchorRegistry` contract: ABI bindings generated from the committed ABI, the
//! committed bytecode, and how to recognize a deployed registry.

use alloy::primitives::{keccak256, B256};

alloy::sol!(
    #[allow(missing_docs)]
    AnchorRegistry,
    "../contracts/out/AnchorRegistry.abi.json"
);

/// Creation bytecode (hex, no `0x`), built by `scripts/build-contracts.sh`.
pub const CREATION_CODE_HEX: &str = include_str!("../../../contracts/out/AnchorRegistry.bin");
/// Deployed bytecode (hex) with the immutables zeroed.
pub const RUNTIME_CODE_HEX: &str =
    include_str!("../../../contracts/out/AnchorRegistry.bin-runtime");
/// Compiler, settings, source SHA-256 and immutable positions of the artifacts.
pub const ARTIFACT_META: &str = include_str!("../../../contracts/out/AnchorRegistry.meta.json");

/// The evidence format the registry accepts (`FORMAT_VERSION()`).
pub const FORMAT_VERSION: u64 = 1;

/// `keccak256(bytes(container_instance_id))`: the registry's key for a container instance
/// (topic 1 of `BatchAnchored`, the key of `headOf`).
pub fn container_key(container_instance_id: &str) -> B256 {
    keccak256(container_instance_id.as_bytes())
}

pub(crate) fn creation_code() -> Vec<u8> {
    // The artifact is hex written by the build script; a test checks that it decodes.
    hex_decode(CREATION_CODE_HEX).unwrap_or_default()
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    alloy::primitives::hex::decode(s.trim()).ok()
}

/// Byte ranges of the immutables inside the deployed code (`immutable_references`).
fn immutable_ranges() -> Vec<(usize, usize)> {
    let meta: serde_json::Value = match serde_json::from_str(ARTIFACT_META) {
        Ok(v) => v,
        Err(_) => return Vec::new(),
    };
    meta["immutable_references"]
        .as_array()
        .map(|refs| {
            refs.iter()
                .filter_map(|r| Some((r[0].as_u64()? as usize, r[1].as_u64()? as usize)))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether deployed `code` is the committed registry (immutables, set at deploy, ignored).
pub(crate) fn code_matches_artifact(code: &[u8]) -> bool {
    let Some(expected) = hex_decode(RUNTIME_CODE_HEX) else {
        return false;
    };
    if code.len() != expected.len() {
        return false;
    }
    let mut masked = code.to_vec();
    for (start, len) in immutable_ranges() {
        if let Some(part) = masked.get_mut(start..start + len) {
            part.fill(0);
        }
    }
    masked == expected
}

/// Bytecode with the trailing CBOR metadata (its length is the last two bytes) removed.
#[cfg(test)]
fn strip_metadata(code: &[u8]) -> &[u8] {
    if code.len() < 2 {
        return code;
    }
    let n = u16::from_be_bytes([code[code.len() - 2], code[code.len() - 1]]) as usize;
    code.len()
        .checked_sub(n + 2)
        .map(|end| &code[..end])
        .unwrap_or(code)
}

/// Offsets of `PUSH0` (0x5f, Shanghai) opcodes, skipping PUSH immediates.
#[cfg(test)]
fn push0_offsets(code: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < code.len() {
        let op = code[i];
        if op == 0x5f {
            out.push(i);
        }
        if (0x60..=0x7f).contains(&op) {
            i += usize::from(op - 0x5f);
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::sol_types::SolEvent;

    #[test]
    fn artifacts_decode_and_target_london() {
        let creation = creation_code();
        assert!(creation.len() > 1000, "creation bytecode present");
        let runtime = hex_decode(RUNTIME_CODE_HEX).unwrap();
        for (name, code) in [("creation", &creation[..]), ("runtime", &runtime[..])] {
            let body = strip_metadata(code);
            assert!(
                body.len() < code.len(),
                "{name} code ends with CBOR metadata"
            );
            assert_eq!(
                push0_offsets(body),
                Vec::<usize>::new(),
                "{name} code uses PUSH0: compile for london (scripts/build-contracts.sh)"
            );
        }
        let meta: serde_json::Value = serde_json::from_str(ARTIFACT_META).unwrap();
        assert_eq!(meta["evm_version"], "london");
        assert!(
            !immutable_ranges().is_empty(),
            "deployBlock is an immutable"
        );
    }

    #[test]
    fn code_match_ignores_immutables_only() {
        let mut code = hex_decode(RUNTIME_CODE_HEX).unwrap();
        let (start, _) = immutable_ranges()[0];
        code[start + 31] = 7;
        assert!(code_matches_artifact(&code));
        code[0] ^= 1;
        assert!(!code_matches_artifact(&code));
        assert!(!code_matches_artifact(&[]));
    }

    #[test]
    fn push0_scan_skips_immediates() {
        // PUSH1 0x5f, PUSH0, PUSH2 0x5f5f, STOP
        assert_eq!(
            push0_offsets(&[0x60, 0x5f, 0x5f, 0x61, 0x5f, 0x5f, 0x00]),
            vec![2]
        );
    }

    #[test]
    fn event_signature_is_stable() {
        assert_eq!(
            AnchorRegistry::BatchAnchored::SIGNATURE,
            "BatchAnchored(bytes32,uint64,bytes32,bytes)"
        );
        assert_eq!(
            container_key("abc"),
            keccak256(b"abc"),
            "the key is keccak256 of the id's UTF-8 bytes"
        );
    }
}
