# shellcheck shell=bash
# Sourced by scripts: defines `conanchor_tui ARGS…`, running the conanchor-tui binary from
# $CONANCHOR_TUI, target/release, target/debug or PATH, else building it with cargo.
_conanchor_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

conanchor_tui() {
    local bin="${CONANCHOR_TUI:-}"
    if [ -z "$bin" ]; then
        for candidate in "$_conanchor_root/target/release/conanchor-tui" \
            "$_conanchor_root/target/debug/conanchor-tui"; do
            if [ -x "$candidate" ]; then bin="$candidate"; break; fi
        done
    fi
    if [ -z "$bin" ] && command -v conanchor-tui >/dev/null 2>&1; then
        bin="$(command -v conanchor-tui)"
    fi
    if [ -n "$bin" ]; then
        "$bin" "$@"
    else
        cargo run --manifest-path "$_conanchor_root/Cargo.toml" --release -q -p conanchor \
            --bin conanchor-tui -- "$@"
    fi
}
