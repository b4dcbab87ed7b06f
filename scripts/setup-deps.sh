#!/usr/bin/env bash
# Installs what ConAnchor's tests and tools need beyond cargo, on a fresh Debian machine.
# Idempotent: installed things are skipped. Needs root for the Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_pkgs=(clang llvm libbpf-dev bpftool tmux sqlite3)
missing=()
for p in "${apt_pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -eq 0 ]; then
    echo "setup-deps: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "setup-deps: missing Debian packages ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})" >&2
  fi
fi

# anvil (a local Ethereum node) and solc, from the npm registry, into ./tools.
if [ -x scripts/dev/install-tools.sh ]; then
  scripts/dev/install-tools.sh
fi
