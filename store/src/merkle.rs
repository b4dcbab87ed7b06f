//! RFC 6962 Merkle trees over leaf hashes, built with `rs_merkle` and a domain-separated
//! SHA-256 hasher: `node = SHA-256(0x01 || left || right)`; an odd node is promoted to the
//! next level unchanged, never duplicated. Level-by-level promotion gives exactly RFC 6962's
//! split at the largest power of two below `n` (tested against a direct recursive
//! implementation below).

use rs_merkle::{Hasher, MerkleProof, MerkleTree};
use sha2::{Digest, Sha256};

use crate::encoding::NODE_PREFIX;
use crate::hash::Hash32;

/// The interior-node hasher. Leaves are hashed by [`crate::encoding::leaf_hash`] before they
/// reach the tree, so `hash` is only used on node input.
#[derive(Clone, Copy, Debug)]
pub struct Rfc6962Hasher;

impl Hasher for Rfc6962Hasher {
    type Hash = [u8; 32];

    fn hash(data: &[u8]) -> [u8; 32] {
        Sha256::digest(data).into()
    }

    fn concat_and_hash(left: &[u8; 32], right: Option<&[u8; 32]>) -> [u8; 32] {
        match right {
            Some(right) => node_hash(left, right),
            None => *left,
        }
    }

    fn hash_size() -> usize {
        32
    }
}

/// `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    crate::hash::sha256_node(NODE_PREFIX, left, right)
}

fn raw(leaves: &[Hash32]) -> Vec<[u8; 32]> {
    leaves.iter().map(|h| h.0).collect()
}

/// The Merkle root of a batch; `None` for an empty leaf list (a batch has at least one event).
pub fn merkle_root(leaves: &[Hash32]) -> Option<Hash32> {
    if leaves.is_empty() {
        return None;
    }
    MerkleTree::<Rfc6962Hasher>::from_leaves(&raw(leaves))
        .root()
        .map(Hash32)
}

/// The audit path proving `leaves[index]` is in the tree (sibling hashes, leaf to root).
pub fn inclusion_proof(leaves: &[Hash32], index: usize) -> Option<Vec<Hash32>> {
    if index >= leaves.len() {
        return None;
    }
    let tree = MerkleTree::<Rfc6962Hasher>::from_leaves(&raw(leaves));
    let proof = tree.proof(&[index]);
    Some(proof.proof_hashes().iter().copied().map(Hash32).collect())
}

/// Checks an audit path from [`inclusion_proof`] against a root.
pub fn verify_inclusion(
    root: &Hash32,
    leaf: &Hash32,
    index: usize,
    leaf_count: usize,
    proof: &[Hash32],
) -> bool {
    if index >= leaf_count {
        return false;
    }
    MerkleProof::<Rfc6962Hasher>::new(raw(proof)).verify(root.0, &[index], &[leaf.0], leaf_count)
}

/// Computes the same root as [`merkle_root`] one leaf at a time, in O(log n) memory: the
/// verifier streams a table scan through one accumulator per batch.
#[derive(Debug, Clone, Default)]
pub struct MerkleAccumulator {
    /// Perfect subtrees, left to right, with their sizes (powers of two, decreasing).
    stack: Vec<([u8; 32], u64)>,
    count: u64,
}

impl MerkleAccumulator {
    pub fn new() -> MerkleAccumulator {
        MerkleAccumulator::default()
    }

    pub fn push(&mut self, leaf: &Hash32) {
        let mut node = (leaf.0, 1u64);
        while let Some(&(top, size)) = self.stack.last() {
            if size != node.1 {
                break;
            }
            self.stack.pop();
            node = (node_hash(&top, &node.0), size * 2);
        }
        self.stack.push(node);
        self.count += 1;
    }

    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The RFC 6962 root of the leaves pushed so far; `None` when there are none.
    pub fn root(&self) -> Option<Hash32> {
        let mut it = self.stack.iter().rev();
        let mut acc = it.next()?.0;
        for (left, _) in it {
            acc = node_hash(left, &acc);
        }
        Some(Hash32(acc))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6962 section 2.1, written out directly as the reference.
    fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
        if leaves.len() == 1 {
            return leaves[0];
        }
        let k = leaves.len().next_power_of_two() / 2;
        node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
    }

    fn leaves(n: usize) -> Vec<Hash32> {
        (0..n as u32)
            .map(|i| Hash32::sha256(&i.to_be_bytes()))
            .collect()
    }

    #[test]
    fn matches_rfc6962_split_rule() {
        for n in 1..=70 {
            let l = leaves(n);
            assert_eq!(merkle_root(&l).unwrap().0, mth(&raw(&l)), "n = {n}");
        }
    }

    #[test]
    fn accumulator_matches_the_tree() {
        for n in 0..=70 {
            let l = leaves(n);
            let mut acc = MerkleAccumulator::new();
            for h in &l {
                acc.push(h);
            }
            assert_eq!(acc.root(), merkle_root(&l), "n = {n}");
            assert_eq!(acc.len(), n as u64);
        }
    }

    #[test]
    fn empty_has_no_root() {
        assert!(merkle_root(&[]).is_none());
    }

    #[test]
    fn odd_node_is_promoted_not_duplicated() {
        let l = leaves(3);
        let dup = node_hash(&node_hash(&l[0].0, &l[1].0), &node_hash(&l[2].0, &l[2].0));
        let promoted = node_hash(&node_hash(&l[0].0, &l[1].0), &l[2].0);
        assert_eq!(merkle_root(&l).unwrap().0, promoted);
        assert_ne!(merkle_root(&l).unwrap().0, dup);
    }

    #[test]
    fn proofs_verify_and_reject() {
        for n in [1usize, 2, 3, 5, 8, 13] {
            let l = leaves(n);
            let root = merkle_root(&l).unwrap();
            for i in 0..n {
                let p = inclusion_proof(&l, i).unwrap();
                assert!(verify_inclusion(&root, &l[i], i, n, &p), "n={n} i={i}");
                let other = Hash32::sha256(b"forged");
                assert!(!verify_inclusion(&root, &other, i, n, &p));
            }
        }
    }
}
