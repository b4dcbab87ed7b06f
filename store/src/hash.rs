//! The 32-byte SHA-256 digest type used everywhere in the evidence format.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

fn state_to_hash(state: &[u32; 8]) -> Hash32 {
    let mut out = [0u8; 32];
    for (o, w) in out.chunks_exact_mut(4).zip(state) {
        o.copy_from_slice(&w.to_be_bytes());
    }
    Hash32(out)
}

fn compress(state: &mut [u32; 8], blocks: &[u8]) {
    debug_assert_eq!(blocks.len() % 64, 0);
    // SAFETY: `GenericArray<u8, U64>` is `repr(transparent)` over `[u8; 64]` (size 64,
    // align 1), and `blocks` holds exactly `len / 64` such arrays.
    let blocks: &[sha2::digest::generic_array::GenericArray<u8, sha2::digest::consts::U64>] =
        unsafe { std::slice::from_raw_parts(blocks.as_ptr().cast(), blocks.len() / 64) };
    sha2::compress256(state, blocks);
}

/// SHA-256 of the bytes in `buf`, padding them in place (the hot path of leaf hashing: no
/// copy into a hasher's block buffer). `buf` keeps the padding; callers clear it.
pub(crate) fn sha256_padded(buf: &mut Vec<u8>) -> Hash32 {
    let bits = (buf.len() as u64).wrapping_mul(8);
    buf.push(0x80);
    let zeros = (64 + 56 - buf.len() % 64) % 64;
    buf.resize(buf.len() + zeros, 0);
    buf.extend_from_slice(&bits.to_be_bytes());
    let mut state = SHA256_IV;
    compress(&mut state, buf);
    state_to_hash(&state)
}

/// `SHA-256(prefix || left || right)` for the 65-byte input of a Merkle node, in two blocks
/// on the stack.
pub(crate) fn sha256_node(prefix: u8, left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut block = [0u8; 128];
    block[0] = prefix;
    block[1..33].copy_from_slice(left);
    block[33..65].copy_from_slice(right);
    block[65] = 0x80;
    block[120..].copy_from_slice(&(65u64 * 8).to_be_bytes());
    let mut state = SHA256_IV;
    compress(&mut state, &block);
    state_to_hash(&state).0
}

/// A SHA-256 digest. In JSON it is 64 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Hash32(pub [u8; 32]);

impl Hash32 {
    /// All zero bytes: the `previous_container_batch_hash` of a container's first batch.
    pub const ZERO: Hash32 = Hash32([0u8; 32]);

    pub fn sha256(data: &[u8]) -> Hash32 {
        Hash32(Sha256::digest(data).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The first 12 hex characters, for tables and logs.
    pub fn short(&self) -> String {
        hex::encode(&self.0[..6])
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Hash32> {
        <[u8; 32]>::try_from(bytes).ok().map(Hash32)
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({})", self.to_hex())
    }
}

/// Why a string is not a hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected 64 hex characters, got {0:?}")]
pub struct HashParseError(pub String);

impl FromStr for Hash32 {
    type Err = HashParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.strip_prefix("0x").unwrap_or(s);
        let mut out = [0u8; 32];
        if s.len() != 64 || hex::decode_to_slice(s, &mut out).is_err() {
            let shown: String = s.chars().take(80).collect();
            return Err(HashParseError(shown));
        }
        Ok(Hash32(out))
    }
}

impl Serialize for Hash32 {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 64];
        // 32 bytes always encode into exactly 64 hex characters.
        hex::encode_to_slice(self.0, &mut buf).map_err(serde::ser::Error::custom)?;
        serializer.serialize_str(std::str::from_utf8(&buf).map_err(serde::ser::Error::custom)?)
    }
}

impl<'de> Deserialize<'de> for Hash32 {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip() {
        let h = Hash32::sha256(b"abc");
        assert_eq!(
            h.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(h.to_hex().parse::<Hash32>().unwrap(), h);
        let json = serde_json::to_string(&h).unwrap();
        assert_eq!(serde_json::from_str::<Hash32>(&json).unwrap(), h);
    }

    #[test]
    fn padded_and_node_hashes_match_sha2() {
        for len in 0..300usize {
            let msg: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
            let mut buf = msg.clone();
            assert_eq!(sha256_padded(&mut buf), Hash32::sha256(&msg), "len {len}");
        }
        let (l, r) = ([7u8; 32], [9u8; 32]);
        let mut input = vec![1u8];
        input.extend_from_slice(&l);
        input.extend_from_slice(&r);
        assert_eq!(sha256_node(1, &l, &r), Hash32::sha256(&input).0);
    }

    #[test]
    fn rejects_bad_hex() {
        assert!("zz".parse::<Hash32>().is_err());
        assert!("00".repeat(31).parse::<Hash32>().is_err());
    }
}
