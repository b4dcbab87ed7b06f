#!/usr/bin/env bash
# What `make build` needs beyond the Rust toolchain: a C compiler and libc headers (SQLite
# is compiled in; rustc links through cc). Installs them with apt-get when run as root on
# Debian, otherwise says what to install. The BPF object is committed: no clang needed.
set -euo pipefail
if ! command -v "${CARGO:-cargo}" >/dev/null 2>&1; then
  echo "build: cargo is missing: install the Rust toolchain (rustup), then run make again" >&2
  exit 2
fi
if command -v cc >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "build: installing a C compiler (gcc, libc6-dev)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null
else
  echo "build: no C compiler found: sudo apt-get install gcc libc6-dev" >&2
  exit 2
fi
