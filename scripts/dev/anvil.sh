#!/usr/bin/env bash
# A local Ethereum JSON-RPC node (anvil) for ConAnchor's EVM ledger: demos, `bench --ledger
# evm`, and manual runs. The integration tests start their own anvil; this is for people.
#
#   scripts/dev/anvil.sh start    start in the background (state kept in the state file)
#   scripts/dev/anvil.sh run      run in the foreground (Ctrl-C stops it, state is saved)
#   scripts/dev/anvil.sh stop     stop the background node (it saves its state first)
#   scripts/dev/anvil.sh status   is it running, and where
#
# Environment:
#   ANVIL_PORT        RPC port on 127.0.0.1 (default 8545)
#   ANVIL_STATE       state file, loaded at start and saved at stop (default .anvil/state.json)
#   ANVIL_BLOCK_TIME  seconds per block; unset = a block per transaction (automine)
#   ANVIL_CHAIN_ID    chain id (default 31337)
#   CONANCHOR_ANVIL   an anvil binary to use instead of tools/bin/anvil
#
# `start` also writes the private key of anvil's first dev account (a well-known test key,
# funded on this local node only) to .anvil/dev-key (mode 600), for
# `conanchor-tui ledger deploy --besu-key-file .anvil/dev-key`. It is never printed.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
dir="$root/.anvil"
port="${ANVIL_PORT:-8545}"
state="${ANVIL_STATE:-$dir/state.json}"
chain_id="${ANVIL_CHAIN_ID:-31337}"
pidfile="$dir/anvil-$port.pid"
logfile="$dir/anvil-$port.log"
url="http://127.0.0.1:$port"

find_anvil() {
    if [ -n "${CONANCHOR_ANVIL:-}" ]; then echo "$CONANCHOR_ANVIL"; return; fi
    if [ ! -x "$root/tools/bin/anvil" ] && ! command -v anvil >/dev/null 2>&1; then
        "$root/scripts/dev/install-tools.sh" anvil >&2
    fi
    if [ -x "$root/tools/bin/anvil" ]; then echo "$root/tools/bin/anvil"; else command -v anvil; fi
}

rpc_up() {
    curl -s -m 2 -H 'content-type: application/json' \
        -d '{"jsonrpc":"2.0","id":1,"method":"eth_chainId","params":[]}' "$url" 2>/dev/null | grep -q result
}

running_pid() {
    [ -f "$pidfile" ] || return 1
    local pid
    pid="$(cat "$pidfile")"
    kill -0 "$pid" 2>/dev/null && echo "$pid"
}

anvil_args() {
    local args=(--host 127.0.0.1 --port "$port" --chain-id "$chain_id" --state "$state"
        --config-out "$dir/config.json" --silent)
    if [ -n "${ANVIL_BLOCK_TIME:-}" ]; then args+=(--block-time "$ANVIL_BLOCK_TIME"); fi
    echo "${args[@]}"
}

write_dev_key() {
    # anvil writes its accounts' keys into config.json; keep only the first, readable by us.
    for _ in $(seq 1 50); do [ -s "$dir/config.json" ] && break; sleep 0.1; done
    (umask 077 && node -e 'const c=require(process.argv[1]); process.stdout.write(c.private_keys[0])' \
        "$dir/config.json" >"$dir/dev-key")
    rm -f "$dir/config.json"
}

cmd="${1:-start}"
mkdir -p "$dir" "$(dirname "$state")"
case "$cmd" in
    start)
        if pid="$(running_pid)"; then echo "anvil already running (pid $pid) at $url"; exit 0; fi
        if rpc_up; then echo "error: something else already serves $url; set ANVIL_PORT" >&2; exit 2; fi
        anvil="$(find_anvil)"
        # shellcheck disable=SC2046
        (umask 077; nohup "$anvil" $(anvil_args) >"$logfile" 2>&1 & echo $! >"$pidfile")
        for _ in $(seq 1 100); do rpc_up && break; sleep 0.1; done
        if ! rpc_up; then echo "error: anvil did not start; see $logfile" >&2; exit 1; fi
        write_dev_key
        echo "anvil running at $url (pid $(cat "$pidfile"), chain id $chain_id, state $state)"
        echo "dev key file: $dir/dev-key"
        ;;
    run)
        anvil="$(find_anvil)"
        echo "anvil at $url (chain id $chain_id, state $state); Ctrl-C to stop"
        (sleep 1 && write_dev_key) &
        # shellcheck disable=SC2046
        exec "$anvil" $(anvil_args)
        ;;
    stop)
        if pid="$(running_pid)"; then
            kill -TERM "$pid"
            for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            rm -f "$pidfile"
            echo "anvil stopped; state saved in $state"
        else
            echo "anvil is not running on port $port"
        fi
        ;;
    status)
        if pid="$(running_pid)"; then echo "anvil running (pid $pid) at $url, state $state"
        else echo "anvil not running on port $port"; exit 1; fi
        ;;
    *) echo "usage: $0 start|run|stop|status" >&2; exit 2 ;;
esac
