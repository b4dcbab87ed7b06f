#!/usr/bin/env bash
# Deploys ConAnchor's AnchorRegistry (the committed contracts/out artifacts, london EVM) to
# an Ethereum JSON-RPC node (Besu, anvil, …) and prints its address. The deploying key
# becomes the registry's owner and its first authorized collector.
#
#   BESU_RPC_URL=http://127.0.0.1:8545 CONANCHOR_BESU_PRIVATE_KEY=<hex key> \
#       scripts/besu/deploy_anchor_registry.sh
#
# Environment:
#   BESU_RPC_URL                 JSON-RPC URL (default http://127.0.0.1:8545)
#   BESU_CHAIN_ID                expected chain id (default 0: read it from the node)
#   CONANCHOR_BESU_PRIVATE_KEY   deploying key (BESU_PRIVATE_KEY, the seed's name, also works)
#   BESU_KEY_FILE                or: a file holding the key (e.g. .anvil/dev-key)
#   BESU_ADDRESS_FILE            where to write the address (default ./data/besu-contract-address)
#   CONANCHOR_TUI                the conanchor-tui binary (default: target/release, target/debug,
#                                PATH, else `cargo run --release`)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
rpc_url="${BESU_RPC_URL:-http://127.0.0.1:8545}"
chain_id="${BESU_CHAIN_ID:-0}"
address_file="${BESU_ADDRESS_FILE:-./data/besu-contract-address}"

if [ -z "${CONANCHOR_BESU_PRIVATE_KEY:-}" ] && [ -n "${BESU_PRIVATE_KEY:-}" ]; then
    export CONANCHOR_BESU_PRIVATE_KEY="$BESU_PRIVATE_KEY"
fi
key_args=()
if [ -n "${BESU_KEY_FILE:-}" ]; then
    key_args=(--besu-key-file "$BESU_KEY_FILE")
elif [ -z "${CONANCHOR_BESU_PRIVATE_KEY:-}" ]; then
    echo "error: no deploying key: set CONANCHOR_BESU_PRIVATE_KEY (or BESU_PRIVATE_KEY) or BESU_KEY_FILE" >&2
    exit 2
fi

# shellcheck source=scripts/lib/conanchor_bin.sh
. "$root/scripts/lib/conanchor_bin.sh"
mkdir -p "$(dirname "$address_file")"
conanchor_tui ledger deploy \
    --ledger-backend besu \
    --besu-rpc-url "$rpc_url" \
    --besu-chain-id "$chain_id" \
    "${key_args[@]}" \
    --address-file "$address_file"
echo "registry address written to $address_file"
echo "use it: --ledger-backend besu --besu-rpc-url $rpc_url --besu-contract-address \$(cat $address_file)"
