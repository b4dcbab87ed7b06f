# ConAnchor — every user-facing entry point.
#   make demo          the workstation on the synthetic source and the mock ledger
#   sudo make run      the workstation on the live eBPF probe
#   make demo-headless the seed's workflow without a screen: generate, then verify (OK)
#   make test          installs what the tests need (first run), then runs every test
SHELL := /bin/bash
CARGO ?= cargo
PROFILE ?= release
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
TUI ?= $(TARGET_DIR)/$(PROFILE)/conanchor-tui
DATA_DIR ?= ./data
CONTAINER_ID ?= demo-container
COUNT ?= 100
BATCH_SIZE ?= 10
COLLECTOR_ID ?= collector-1
PROFILE_FLAG := $(if $(filter release,$(PROFILE)),--release,)

# Extra workstation flags, e.g. TUI_ARGS="--rate 500 --containers 5".
TUI_ARGS ?=

.PHONY: build build-deps test check fmt fmt-check clippy deps demo demo-headless run \
	demo-generate demo-verify bench bench-criterion bench-tui seed-workflow
.DEFAULT_GOAL := build

# What building needs beyond the Rust toolchain: a C compiler (bundled SQLite, linking).
build-deps:
	@./scripts/check-build-deps.sh

build: build-deps
	$(CARGO) build $(PROFILE_FLAG) --workspace --bins

# What the tests need beyond cargo: tools from Debian and the npm registry (idempotent).
deps:
	./scripts/setup-deps.sh

test: deps
	$(CARGO) test --workspace --no-fail-fast

fmt:
	$(CARGO) fmt --all

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

check: fmt-check clippy test

# The workstation on synthetic events and the mock ledger (q quits; the log goes to
# $(DATA_DIR)/conanchor-tui.log).
demo: build
	$(TUI) --source synthetic --ledger-backend mock --data-dir $(DATA_DIR) $(TUI_ARGS)

# The workstation on the live eBPF probe (needs root). Under sudo an existing binary is
# used as is (cargo is often not on root's PATH): `make build` first as yourself.
run:
	@[ "$$(id -u)" -eq 0 ] || { echo "make run: the live probe needs root: sudo make run (make demo runs without it)" >&2; exit 2; }
	@if [ -n "$$SUDO_USER" ] && [ -x "$(TUI)" ]; then :; \
	elif command -v $(CARGO) >/dev/null 2>&1; then $(MAKE) --no-print-directory build; \
	else echo "make run: $(TUI) is missing and cargo is not on root's PATH: run make build as yourself first" >&2; exit 2; fi
	$(TUI) --source live --data-dir $(DATA_DIR) $(TUI_ARGS)

# The seed's workflow without a screen (for CI and scripts): generate, then verify (OK).
demo-headless: demo-generate demo-verify

demo-generate: build
	$(TUI) generate --data-dir $(DATA_DIR) --container-id $(CONTAINER_ID) --count $(COUNT) --batch-size $(BATCH_SIZE) --collector-id $(COLLECTOR_ID) --fresh --workflow-log

demo-verify:
	$(TUI) verify --data-dir $(DATA_DIR) --container-instance-id $(CONTAINER_ID)

bench: build
	$(TUI) bench --events 1000000

# Criterion micro-benchmarks of the evidence hot paths (leaf hashing, Merkle roots, decoding,
# the verifier's SQLite scan).
bench-criterion:
	$(CARGO) bench -p conanchor-store --bench evidence

# The workstation under load: 50,000 events/s for 10 s, frame times and peak RSS.
bench-tui: build
	$(TUI) bench --tui --tui-rate 50000 --tui-seconds 10

# The seed's README workflow: OK, then FAILED after an attack (used by CI).
seed-workflow:
	./scripts/seed-workflow.sh

-include mk/*.mk
