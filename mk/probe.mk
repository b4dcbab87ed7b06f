# The live probe: rebuild its BPF object, check the committed one, collect live.
#   make bpf          rebuild probe/bpf/conanchor.bpf.o from its C sources (clang, llvm-strip)
#   make check-bpf    fail when the committed object differs from a rebuild (CI runs it)
#   sudo make collect-live   the headless collector on the live probe (event JSONL on stdout)
include probe/Makefile.inc

.PHONY: check-bpf collect-live

check-bpf: deps
	./scripts/check-bpf-object.sh

collect-live: build
	$(TUI) collect --source live --data-dir $(DATA_DIR) --batch-size $(BATCH_SIZE) --collector-id $(COLLECTOR_ID) --workflow-log
