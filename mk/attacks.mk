# Attack lab demo targets (issue #3). Included by the top Makefile (`include mk/*.mk`).
#
#   make demo-generate && make demo-verify && make demo-attack-modify && make demo-verify
#
# gives OK, then FAILED with the modified event localized. `make demo-restore` undoes every
# attack so the demo can be repeated. Each target accepts ATTACK_BATCH=N and ATTACK_SEQ=S.

DATA_DIR ?= ./data
CONTAINER_ID ?= demo-container
TUI ?= target/release/conanchor-tui

ATTACK_TARGET_ARGS = $(if $(ATTACK_BATCH),--batch $(ATTACK_BATCH)) $(if $(ATTACK_SEQ),--seq $(ATTACK_SEQ))
ATTACK = $(TUI) attack --data-dir $(DATA_DIR) --container-id $(CONTAINER_ID) $(ATTACK_TARGET_ARGS)

.PHONY: demo-attack-modify demo-attack-delete demo-attack-insert demo-attack-reorder \
	demo-attack-rollback demo-attack-forge demo-attack-ledger demo-restore demo-diff

demo-attack-modify:  ## Attack: change one field of one stored event
	$(ATTACK) --type modify-log

demo-attack-delete:  ## Attack: delete one stored event
	$(ATTACK) --type delete-log

demo-attack-insert:  ## Attack: insert a forged event inside a sealed batch
	$(ATTACK) --type insert-log

demo-attack-reorder: ## Attack: swap two adjacent stored events
	$(ATTACK) --type reorder-log

demo-attack-rollback: ## Attack: remove the container's last sealed batch and its events
	$(ATTACK) --type rollback-container

demo-attack-forge:   ## Attack: modify an event and recompute leaves, root and batch hashes in the store
	$(ATTACK) --type forge-batch

demo-attack-ledger:  ## Attack: edit an anchor in the mock chain
	$(ATTACK) --type tamper-ledger

demo-restore:        ## Undo every journaled attack
	$(TUI) attack --data-dir $(DATA_DIR) --restore all

demo-diff:           ## Show the first failed batch of CONTAINER_ID as aligned rows (ATTACK_BATCH=N for another)
	-$(TUI) diff --data-dir $(DATA_DIR) --container-id $(CONTAINER_ID) $(if $(ATTACK_BATCH),--batch $(ATTACK_BATCH))
