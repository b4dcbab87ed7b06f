#!/usr/bin/env bash
# Installs the EVM dev tools into ./tools (ignored by git) from the npm registry:
#   anvil (a local Ethereum JSON-RPC node, for tests and demos) and solcjs (the compiler
#   that scripts/build-contracts.sh uses). Safe to re-run: already present versions are kept.
#
#   scripts/dev/install-tools.sh            # both
#   scripts/dev/install-tools.sh anvil      # only anvil
#   scripts/dev/install-tools.sh solc       # only solc
set -euo pipefail

ANVIL_VERSION="${CONANCHOR_ANVIL_VERSION:-1.7.1}"
SOLC_VERSION="${CONANCHOR_SOLC_VERSION:-0.8.30}"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
tools="$root/tools"
mkdir -p "$tools"

need() { command -v "$1" >/dev/null 2>&1 || { echo "error: $1 is required (install Node.js and npm)" >&2; exit 2; }; }
need npm

installed_version() { # package -> version or empty
    local pj="$tools/node_modules/$1/package.json"
    if [ -f "$pj" ]; then node -p "require('$pj').version" 2>/dev/null || true; fi
}

want=("$@")
[ "${#want[@]}" -gt 0 ] || want=(anvil solc)
pkgs=()
for w in "${want[@]}"; do
    case "$w" in
        anvil) [ "$(installed_version @foundry-rs/anvil-linux-amd64)" = "$ANVIL_VERSION" ] \
                   || pkgs+=("@foundry-rs/anvil-linux-amd64@$ANVIL_VERSION") ;;
        solc) [ "$(installed_version solc)" = "$SOLC_VERSION" ] || pkgs+=("solc@$SOLC_VERSION") ;;
        *) echo "error: unknown tool '$w' (expected anvil or solc)" >&2; exit 2 ;;
    esac
done

if [ "${#pkgs[@]}" -gt 0 ]; then
    [ -f "$tools/package.json" ] || echo '{ "private": true }' >"$tools/package.json"
    npm install --prefix "$tools" --no-audit --no-fund --save-exact "${pkgs[@]}" >&2
fi

anvil_bin="$tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
if [[ " ${want[*]} " == *anvil* ]]; then
    if [ ! -x "$anvil_bin" ]; then
        found="$(find "$tools/node_modules/@foundry-rs/anvil-linux-amd64" -type f -name anvil 2>/dev/null | head -1)"
        [ -n "$found" ] || { echo "error: the anvil package has no anvil binary" >&2; exit 2; }
        chmod +x "$found"
        anvil_bin="$found"
    fi
    mkdir -p "$tools/bin"
    ln -sf "$anvil_bin" "$tools/bin/anvil"
    echo "anvil: $tools/bin/anvil ($("$tools/bin/anvil" --version | head -1))"
fi
if [[ " ${want[*]} " == *solc* ]]; then
    echo "solc: $tools/node_modules/.bin/solcjs ($("$tools/node_modules/.bin/solcjs" --version))"
fi
