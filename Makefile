# ConAnchor — every user-facing entry point.
#   make demo   the workstation on the synthetic source and the mock ledger
#   make test   installs what the tests need (first run), then runs every test
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

.PHONY: build test check fmt fmt-check clippy deps demo demo-generate demo-verify bench seed-workflow
.DEFAULT_GOAL := build

build:
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

demo: build
	$(TUI) generate --data-dir $(DATA_DIR) --container-id $(CONTAINER_ID) --count $(COUNT) --batch-size $(BATCH_SIZE) --collector-id $(COLLECTOR_ID) --fresh --workflow-log
	$(TUI) verify --data-dir $(DATA_DIR) --container-instance-id $(CONTAINER_ID)

demo-generate: build
	$(TUI) generate --data-dir $(DATA_DIR) --container-id $(CONTAINER_ID) --count $(COUNT) --batch-size $(BATCH_SIZE) --collector-id $(COLLECTOR_ID) --fresh --workflow-log

demo-verify:
	$(TUI) verify --data-dir $(DATA_DIR) --container-instance-id $(CONTAINER_ID)

bench: build
	$(TUI) bench --events 1000000

# The seed's README workflow: OK, then FAILED after an attack (used by CI).
seed-workflow:
	./scripts/seed-workflow.sh

-include mk/*.mk
