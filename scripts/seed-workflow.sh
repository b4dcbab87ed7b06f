#!/usr/bin/env bash
# The seed's README workflow: make demo-generate, make demo-verify (OK),
# make demo-attack-modify, make demo-verify (FAILED). Exits non-zero if either verdict is wrong.
set -uo pipefail
cd "$(dirname "$0")/.."
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
m() { make --no-print-directory DATA_DIR="$dir/data" "$@"; }
m build PROFILE="${PROFILE:-debug}" >/dev/null || exit 2
m demo-generate PROFILE="${PROFILE:-debug}" >/dev/null 2>&1 || { echo "seed-workflow: demo-generate failed"; exit 2; }
m demo-verify PROFILE="${PROFILE:-debug}"; first=$?
if ! grep -q '^demo-attack-modify:' mk/*.mk 2>/dev/null; then
  echo "seed-workflow: demo-attack-modify is not defined yet; checked generate+verify only"
  [ "$first" -eq 0 ] && echo "seed-workflow: 1 passed, 0 failed" && exit 0
  exit 1
fi
m demo-attack-modify PROFILE="${PROFILE:-debug}" || { echo "seed-workflow: demo-attack-modify failed"; exit 2; }
out=$(m demo-verify PROFILE="${PROFILE:-debug}" 2>&1); second=$?
echo "$out"
# make exits 2 when the verifier exits 1; the verdict line tells FAILED from an error.
if [ "$first" -eq 0 ] && [ "$second" -ne 0 ] && grep -q '^status: FAILED' <<<"$out" && grep -q MERKLE_ROOT_MISMATCH <<<"$out"; then
  echo "seed-workflow: OK then FAILED as expected"
  echo "seed-workflow: 2 passed, 0 failed"
  exit 0
fi
echo "seed-workflow: expected OK then FAILED (MERKLE_ROOT_MISMATCH), got exit $first then $second"
exit 1
