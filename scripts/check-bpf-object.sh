#!/usr/bin/env bash
# Fails when the committed BPF object is not what its committed sources build to.
# Usage: scripts/check-bpf-object.sh   (from anywhere; needs clang and llvm-strip)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
committed="probe/bpf/conanchor.bpf.o"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

cd "$root"
make --no-print-directory -s -f probe/Makefile.inc bpf BPF_OUT="$tmp/conanchor.bpf.o"
if cmp -s "$committed" "$tmp/conanchor.bpf.o"; then
	echo "ok: $committed matches its sources ($(clang --version | head -n1))"
else
	echo "error: $committed differs from a rebuild of probe/bpf/*.c,*.h: run 'make bpf' and commit the object" >&2
	echo "       (built with $(clang --version | head -n1); the committed object must come from the same clang)" >&2
	exit 1
fi
