// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/// @title ConAnchor AnchorRegistry
/// @notice Anchors ConAnchor batch commitments (evidence format v1, docs/FORMAT.md).
///
/// A collector submits each sealed batch as its *canonical batch bytes* (the exact bytes
/// whose SHA-256 is `container_batch_hash`). The contract:
///   - checks the bytes are well formed (tag, length prefixes, total length);
///   - computes `container_batch_hash = sha256(canonical)` itself, so what is anchored is
///     always the hash of the fields logged beside it;
///   - requires the batch to extend its container's head: `container_batch_id` is the head's
///     id + 1 (1 for a new container) and `previous_container_batch_hash` is the head's
///     hash (zero for a new container). Gaps, forks and overwrites are therefore impossible;
///   - keeps one storage slot per container instance, its head:
///     `batch id (uint64, high 8 bytes) | first 24 bytes of the batch hash`;
///   - emits `BatchAnchored` with the full canonical bytes, so a verifier rebuilds every
///     anchor record from logs (topics: container key, batch id) and checks the head.
///
/// `containerKey = keccak256(bytes(container_instance_id))`.
/// Compiled for the `london` EVM (no PUSH0), so it deploys on Besu genesis files without
/// Shanghai.
contract AnchorRegistry {
    /// Evidence format this registry accepts.
    uint256 public constant FORMAT_VERSION = 1;

    bytes18 private constant BATCH_TAG = "CONANCHOR-BATCH-V1";
    /// Tag (18) + container id length prefix (4).
    uint256 private constant ID_OFFSET = 22;
    /// Nine u64 fields (72) + previous hash (32) + Merkle root (32) + collector length (4).
    uint256 private constant FIXED_TAIL = 140;

    /// May authorize and revoke collectors.
    address public owner;
    /// Block in which the registry was deployed: where log queries start.
    uint256 public immutable deployBlock;
    /// Collector addresses allowed to anchor.
    mapping(address => bool) public authorized;
    /// containerKey => head (`uint64 batch id << 192 | bytes24 batch hash prefix`).
    mapping(bytes32 => bytes32) private heads;

    event BatchAnchored(
        bytes32 indexed containerKey,
        uint64 indexed batchId,
        bytes32 batchHash,
        bytes canonicalBatch
    );
    event CollectorAuthorized(address indexed collector, bool allowed);
    event OwnershipTransferred(address indexed previousOwner, address indexed newOwner);

    error NotOwner(address caller);
    error NotAuthorized(address caller);
    /// Batch `index` of the call is not canonical batch bytes v1.
    error MalformedBatch(uint256 index);
    /// The batch does not extend its container's head (a gap, or already anchored).
    error NotNextBatch(bytes32 containerKey, uint64 headBatchId, uint64 offeredBatchId);
    /// The batch's previous hash is not the head's hash (a fork of the chain).
    error PreviousHashMismatch(bytes32 containerKey, uint64 batchId);

    constructor() {
        owner = msg.sender;
        deployBlock = block.number;
        authorized[msg.sender] = true;
        emit OwnershipTransferred(address(0), msg.sender);
        emit CollectorAuthorized(msg.sender, true);
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        _;
    }

    function setCollector(address collector, bool allowed) external onlyOwner {
        authorized[collector] = allowed;
        emit CollectorAuthorized(collector, allowed);
    }

    function transferOwnership(address newOwner) external onlyOwner {
        emit OwnershipTransferred(owner, newOwner);
        owner = newOwner;
    }

    /// Anchors batches in order; the whole call reverts if any one is refused. Batches of one
    /// container must come in ascending, contiguous order.
    function anchor(bytes[] calldata batches) external {
        if (!authorized[msg.sender]) revert NotAuthorized(msg.sender);
        for (uint256 i = 0; i < batches.length; ++i) {
            _anchorOne(batches[i], i);
        }
    }

    function _anchorOne(bytes calldata b, uint256 index) private {
        (bytes32 key, uint64 batchId, bytes32 previous) = _parse(b, index);

        bytes32 head = heads[key];
        uint64 headId = uint64(uint256(head) >> 192);
        if (batchId != headId + 1) revert NotNextBatch(key, headId, batchId);
        // The head keeps the first 24 bytes of its hash; a new container's is all zero.
        if (bytes24(head << 64) != bytes24(previous) || (headId == 0 && previous != 0)) {
            revert PreviousHashMismatch(key, batchId);
        }

        bytes32 batchHash = sha256(b);
        heads[key] = bytes32((uint256(batchId) << 192) | (uint256(batchHash) >> 64));
        emit BatchAnchored(key, batchId, batchHash, b);
    }

    /// Checks the layout of canonical batch bytes v1 and reads the fields the chain needs.
    function _parse(bytes calldata b, uint256 index)
        private
        pure
        returns (bytes32 key, uint64 batchId, bytes32 previous)
    {
        if (b.length < ID_OFFSET + 1 + FIXED_TAIL || bytes18(b[0:18]) != BATCH_TAG) {
            revert MalformedBatch(index);
        }
        uint256 p = ID_OFFSET + uint32(bytes4(b[18:ID_OFFSET]));
        if (p == ID_OFFSET || b.length < p + FIXED_TAIL) revert MalformedBatch(index);
        if (b.length != p + FIXED_TAIL + uint32(bytes4(b[p + 136:p + FIXED_TAIL]))) {
            revert MalformedBatch(index);
        }
        key = keccak256(b[ID_OFFSET:p]);
        batchId = uint64(bytes8(b[p:p + 8]));
        previous = bytes32(b[p + 72:p + 104]);
    }

    /// The latest anchored batch of a container (0 and zero bytes when it has none).
    function headOf(bytes32 containerKey)
        external
        view
        returns (uint64 batchId, bytes24 batchHashPrefix)
    {
        bytes32 head = heads[containerKey];
        return (uint64(uint256(head) >> 192), bytes24(head << 64));
    }
}
