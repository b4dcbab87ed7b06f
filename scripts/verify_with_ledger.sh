#!/usr/bin/env bash
# Verifies stored evidence against the ledger's anchors (the seed's script, same arguments).
#
#   scripts/verify_with_ledger.sh DATA_DIR CONTAINER_INSTANCE_ID [FROM_BATCH] [TO_BATCH]
#   LEDGER_BACKEND=besu BESU_RPC_URL=http://127.0.0.1:8545 BESU_CONTRACT_ADDRESS=0x… \
#       scripts/verify_with_ledger.sh ./data <container_instance_id> 1 0
#
# TO_BATCH 0 means the latest anchored batch. Environment: LEDGER_BACKEND (mock | besu |
# evm, default mock), BESU_RPC_URL (default http://127.0.0.1:8545), BESU_CONTRACT_ADDRESS
# (required for besu; default: the content of ./data/besu-contract-address when present),
# BESU_CHAIN_ID (default 0: read from the node), CONANCHOR_TUI (the binary to run).
# Exit status: 0 OK, 1 tampering found, 2 could not verify.
set -euo pipefail

if [ "$#" -lt 2 ]; then
    echo "usage: $0 DATA_DIR CONTAINER_INSTANCE_ID [FROM_BATCH] [TO_BATCH]" >&2
    exit 2
fi
data_dir="$1"
container="$2"
from_batch="${3:-1}"
to_batch="${4:-0}"
backend="${LEDGER_BACKEND:-mock}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib/conanchor_bin.sh
. "$root/scripts/lib/conanchor_bin.sh"

args=(verify --data-dir "$data_dir" --container-instance-id "$container"
    --from-batch "$from_batch" --to-batch "$to_batch")
case "$backend" in
    mock) args+=(--ledger-backend mock) ;;
    besu | evm)
        address="${BESU_CONTRACT_ADDRESS:-}"
        if [ -z "$address" ] && [ -f "$data_dir/besu-contract-address" ]; then
            address="$(cat "$data_dir/besu-contract-address")"
        fi
        if [ -z "$address" ]; then
            echo "error: set BESU_CONTRACT_ADDRESS to the AnchorRegistry address (scripts/besu/deploy_anchor_registry.sh prints it)" >&2
            exit 2
        fi
        args+=(--ledger-backend besu
            --besu-rpc-url "${BESU_RPC_URL:-http://127.0.0.1:8545}"
            --besu-chain-id "${BESU_CHAIN_ID:-0}"
            --besu-contract-address "$address")
        ;;
    *) echo "error: LEDGER_BACKEND must be mock, besu or evm (got $backend)" >&2; exit 2 ;;
esac
conanchor_tui "${args[@]}"
