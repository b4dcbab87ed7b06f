#!/usr/bin/env bash
# Starts a single-validator Hyperledger Besu dev network (QBFT, 2 s blocks, free gas, London
# EVM) for ConAnchor's EVM ledger. Besu no longer has `--network=dev`: on first start this
# generates the validator key and genesis from scripts/besu/qbft-dev-config.json into the
# data dir (`besu operator generate-blockchain-config`); later starts reuse them, so the
# chain and its anchors survive restarts.
#
#   scripts/besu/start_besu_dev.sh [DATA_DIR] [HTTP_PORT] [WS_PORT] [P2P_PORT] [NAME]
#   scripts/besu/start_besu_dev.sh ./data/besu-node-1 8545 8546 30303 conanchor-besu-node-1
#
# Runs Besu in Docker when `docker` works (image $BESU_IMAGE, container NAME, ports bound to
# 127.0.0.1 only), otherwise a local `besu` binary in the foreground. Gas is free
# (zeroBaseFee, --min-gas-price=0), so any key can deploy and anchor without funds; only
# keys the registry owner authorizes may anchor.
#
# Environment: BESU_IMAGE (default hyperledger/besu:25.10.0), BESU_BIN (default: besu on
# PATH), BESU_FORCE_LOCAL=1 (skip Docker).
set -euo pipefail

data_dir="${1:-./data/besu-node-1}"
http_port="${2:-8545}"
ws_port="${3:-8546}"
p2p_port="${4:-30303}"
name="${5:-conanchor-besu-node-1}"
image="${BESU_IMAGE:-hyperledger/besu:25.10.0}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

mkdir -p "$data_dir"
data_dir="$(cd "$data_dir" && pwd)"

use_docker=0
if [ "${BESU_FORCE_LOCAL:-0}" != 1 ] && command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
    use_docker=1
fi
besu_bin="${BESU_BIN:-besu}"
if [ "$use_docker" = 0 ] && ! command -v "$besu_bin" >/dev/null 2>&1; then
    echo "error: neither a working docker nor a besu binary was found; install Docker, or Besu (https://besu.hyperledger.org) and put besu on PATH or set BESU_BIN" >&2
    exit 2
fi

# besu ARGS… with /data mapped to the data dir.
run_besu() {
    if [ "$use_docker" = 1 ]; then
        docker run --rm -u "$(id -u):$(id -g)" -v "$data_dir:/data" "$image" "$@"
    else
        "$besu_bin" "$@"
    fi
}

# Paths as Besu sees them.
if [ "$use_docker" = 1 ]; then d=/data; else d="$data_dir"; fi

if [ ! -f "$data_dir/genesis.json" ] || [ ! -f "$data_dir/key" ]; then
    echo "generating the QBFT validator key and genesis in $data_dir"
    cp "$here/qbft-dev-config.json" "$data_dir/qbft-dev-config.json"
    rm -rf "$data_dir/network-files"
    run_besu operator generate-blockchain-config \
        --config-file="$d/qbft-dev-config.json" \
        --to="$d/network-files" \
        --private-key-file-name=key >/dev/null
    cp "$data_dir/network-files/genesis.json" "$data_dir/genesis.json"
    key_dir="$(find "$data_dir/network-files/keys" -mindepth 1 -maxdepth 1 -type d | head -1)"
    (umask 077 && cp "$key_dir/key" "$data_dir/key")
    cp "$key_dir/key.pub" "$data_dir/key.pub"
    rm -rf "$data_dir/network-files"
fi

# shellcheck disable=SC2054 # the commas are inside Besu option values
common=(
    --data-path="$d/db"
    --genesis-file="$d/genesis.json"
    --node-private-key-file="$d/key"
    --min-gas-price=0
    --rpc-http-enabled --rpc-http-api=ETH,NET,WEB3,QBFT,TXPOOL
    --rpc-http-cors-origins=all --host-allowlist=localhost,127.0.0.1
    --rpc-ws-enabled --rpc-ws-api=ETH,NET,WEB3
    --discovery-enabled=false
    --logging=INFO
)

if [ "$use_docker" = 1 ]; then
    docker rm -f "$name" >/dev/null 2>&1 || true
    docker run -d --name "$name" -u "$(id -u):$(id -g)" -v "$data_dir:/data" \
        -p "127.0.0.1:$http_port:8545" -p "127.0.0.1:$ws_port:8546" -p "127.0.0.1:$p2p_port:30303" \
        "$image" "${common[@]}" \
        --rpc-http-host=0.0.0.0 --rpc-http-port=8545 --rpc-ws-host=0.0.0.0 --rpc-ws-port=8546 \
        --p2p-port=30303 >/dev/null
    echo "besu starting in container $name; logs: docker logs -f $name"
else
    echo "besu starting in the foreground (Ctrl-C stops it)"
fi

url="http://127.0.0.1:$http_port"
wait_rpc() {
    for _ in $(seq 1 120); do
        if curl -s -m 2 -H 'content-type: application/json' \
            -d '{"jsonrpc":"2.0","id":1,"method":"eth_blockNumber","params":[]}' "$url" | grep -q result; then
            echo "besu RPC ready at $url (chain id 1337, free gas, QBFT 2 s blocks)"
            echo "next: BESU_RPC_URL=$url CONANCHOR_BESU_PRIVATE_KEY=<key> scripts/besu/deploy_anchor_registry.sh"
            return 0
        fi
        sleep 1
    done
    echo "error: besu did not answer on $url within 120 s" >&2
    return 1
}

if [ "$use_docker" = 1 ]; then
    wait_rpc
else
    wait_rpc &
    exec "$besu_bin" "${common[@]}" \
        --rpc-http-host=127.0.0.1 --rpc-http-port="$http_port" \
        --rpc-ws-host=127.0.0.1 --rpc-ws-port="$ws_port" \
        --p2p-host=127.0.0.1 --p2p-port="$p2p_port"
fi
