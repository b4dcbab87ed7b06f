# EVM ledger (AnchorRegistry on anvil or Hyperledger Besu). Included by the top Makefile.
.PHONY: tools contracts contracts-check anvil-start anvil-stop besu-dev besu-deploy test-evm

tools:            ## anvil and solc from the npm registry, into ./tools
	scripts/dev/install-tools.sh

contracts:        ## rebuild contracts/out from contracts/AnchorRegistry.sol
	scripts/build-contracts.sh

contracts-check:  ## fail if the committed artifacts are stale
	scripts/build-contracts.sh --check

anvil-start:      ## a local anvil on :8545 (state in .anvil/, dev key in .anvil/dev-key)
	scripts/dev/anvil.sh start

anvil-stop:
	scripts/dev/anvil.sh stop

besu-dev:         ## a single-validator QBFT, free-gas Besu dev node (Docker or a local besu)
	scripts/besu/start_besu_dev.sh ./data/besu-node-1 8545 8546 30303 conanchor-besu-node-1

besu-deploy:      ## deploy AnchorRegistry to $$BESU_RPC_URL
	scripts/besu/deploy_anchor_registry.sh

test-evm: tools
	CONANCHOR_REQUIRE_ANVIL=1 $(CARGO) test -p conanchor-ledger --test evm_anvil
	CONANCHOR_REQUIRE_ANVIL=1 $(CARGO) test -p conanchor --test evm_attacks
