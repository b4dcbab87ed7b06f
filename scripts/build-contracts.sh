#!/usr/bin/env bash
# Compiles contracts/AnchorRegistry.sol with solcjs (npm package `solc`, pinned below) for
# the london EVM (no PUSH0: Besu genesis files without Shanghai must accept it) and writes
# the committed artifacts:
#
#   contracts/out/AnchorRegistry.abi.json      ABI
#   contracts/out/AnchorRegistry.bin           creation bytecode (hex)
#   contracts/out/AnchorRegistry.bin-runtime   deployed bytecode (hex; immutables zeroed)
#   contracts/out/AnchorRegistry.meta.json     compiler, settings, source SHA-256, immutables
#
# Usage:
#   scripts/build-contracts.sh           rebuild the artifacts
#   scripts/build-contracts.sh --check   rebuild into a temp dir; exit 1 if the committed
#                                        artifacts differ (stale), 0 if they match
# Environment: CONANCHOR_SOLC_MODULE=path/to/node_modules/solc (default: tools/node_modules/solc,
# installed by scripts/dev/install-tools.sh solc).
set -euo pipefail

SOLC_VERSION="0.8.30"
EVM_VERSION="london"
OPTIMIZER_RUNS=10000

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src_rel="contracts/AnchorRegistry.sol"
out="$root/contracts/out"
check=0
case "${1:-}" in
    --check) check=1 ;;
    "") ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

solc_module="${CONANCHOR_SOLC_MODULE:-$root/tools/node_modules/solc}"
if [ ! -f "$solc_module/package.json" ]; then
    echo "error: the npm package solc is not at $solc_module; run scripts/dev/install-tools.sh solc (or set CONANCHOR_SOLC_MODULE)" >&2
    exit 2
fi
have="$(node -p "require('$solc_module/package.json').version")"
if [ "$have" != "$SOLC_VERSION" ]; then
    echo "error: solc $have is installed, the artifacts are built with $SOLC_VERSION; run scripts/dev/install-tools.sh solc" >&2
    exit 2
fi

dest="$out"
if [ "$check" = 1 ]; then
    dest="$(mktemp -d)"
    trap 'rm -rf "$dest"' EXIT
fi
mkdir -p "$dest"

DEST="$dest" SRC="$root/$src_rel" SRC_REL="$src_rel" EVM="$EVM_VERSION" RUNS="$OPTIMIZER_RUNS" \
    SOLC_MODULE="$solc_module" node -e '
const fs = require("fs");
const crypto = require("crypto");
const solc = require(process.env.SOLC_MODULE);
const env = process.env;
const source = fs.readFileSync(env.SRC);
const input = {
  language: "Solidity",
  sources: { [env.SRC_REL]: { content: source.toString("utf8") } },
  settings: {
    evmVersion: env.EVM,
    optimizer: { enabled: true, runs: Number(env.RUNS) },
    outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "evm.deployedBytecode.immutableReferences"] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
for (const e of out.errors || []) process.stderr.write(e.formattedMessage || e.message);
if ((out.errors || []).some(e => e.severity === "error")) process.exit(1);
const c = out.contracts[env.SRC_REL].AnchorRegistry;
const immutables = [];
for (const refs of Object.values(c.evm.deployedBytecode.immutableReferences || {}))
  for (const r of refs) immutables.push([r.start, r.length]);
immutables.sort((a, b) => a[0] - b[0]);
const meta = {
  contract: "AnchorRegistry",
  source: env.SRC_REL,
  source_sha256: crypto.createHash("sha256").update(source).digest("hex"),
  compiler: "solc " + solc.version(),
  evm_version: env.EVM,
  optimizer_runs: Number(env.RUNS),
  immutable_references: immutables,
  rebuild: "scripts/build-contracts.sh",
};
fs.writeFileSync(env.DEST + "/AnchorRegistry.abi.json", JSON.stringify(c.abi, null, 2) + "\n");
fs.writeFileSync(env.DEST + "/AnchorRegistry.bin", c.evm.bytecode.object + "\n");
fs.writeFileSync(env.DEST + "/AnchorRegistry.bin-runtime", c.evm.deployedBytecode.object + "\n");
fs.writeFileSync(env.DEST + "/AnchorRegistry.meta.json", JSON.stringify(meta, null, 2) + "\n");
'

if [ "$check" = 1 ]; then
    stale=0
    for f in AnchorRegistry.abi.json AnchorRegistry.bin AnchorRegistry.bin-runtime AnchorRegistry.meta.json; do
        if ! cmp -s "$dest/$f" "$out/$f"; then
            echo "stale: contracts/out/$f does not match $src_rel; run scripts/build-contracts.sh" >&2
            stale=1
        fi
    done
    [ "$stale" = 0 ] && echo "contracts/out is up to date with $src_rel"
    exit "$stale"
fi
echo "wrote contracts/out/AnchorRegistry.{abi.json,bin,bin-runtime,meta.json} ($(($(wc -c <"$out/AnchorRegistry.bin-runtime") / 2)) bytes deployed)"
