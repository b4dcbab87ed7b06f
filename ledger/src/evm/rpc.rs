//! JSON-RPC plumbing: every request under a timeout, node errors mapped to [`LedgerError`]s
//! that say what to fix, and locally signed transactions sent and awaited by polling.

use std::future::IntoFuture;
use std::time::{Duration, Instant};

use alloy::eips::eip2718::Encodable2718;
use alloy::eips::BlockNumberOrTag;
use alloy::network::{EthereumWallet, NetworkTransactionBuilder, TransactionBuilder};
use alloy::primitives::{Address, Bytes, TxHash, U256};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolInterface;
use alloy::transports::{RpcError, TransportError};

use super::contract::AnchorRegistry::AnchorRegistryErrors;
use super::{EvmConfig, GasMode, SecretKey};
use crate::LedgerError;

/// A node behind an HTTP URL.
pub(crate) struct Node {
    pub provider: RootProvider,
    pub url: String,
    rpc_timeout: Duration,
}

impl Node {
    pub fn new(url: &str, rpc_timeout: Duration) -> Result<Node, LedgerError> {
        let parsed: alloy::transports::http::reqwest::Url = url.parse().map_err(|e| {
            LedgerError::Config(format!(
                "--besu-rpc-url {url:?} is not a URL ({e}); expected e.g. http://127.0.0.1:8545"
            ))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(LedgerError::Config(format!(
                "--besu-rpc-url {url:?} must be an http:// or https:// JSON-RPC URL"
            )));
        }
        Ok(Node {
            provider: RootProvider::new_http(parsed),
            url: url.to_string(),
            rpc_timeout,
        })
    }

    /// Runs one request under the RPC timeout; `what` names it in errors.
    pub async fn rpc<T, F>(&self, what: &str, request: F) -> Result<T, LedgerError>
    where
        F: IntoFuture<Output = Result<T, TransportError>>,
    {
        match tokio::time::timeout(self.rpc_timeout, request.into_future()).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.map_error(what, &e)),
            Err(_) => Err(self.unreachable(format!(
                "{what}: no answer within {}s",
                self.rpc_timeout.as_secs_f32()
            ))),
        }
    }

    pub fn unreachable(&self, reason: String) -> LedgerError {
        LedgerError::Unreachable {
            location: self.url.clone(),
            reason,
        }
    }

    /// Transport failures are outages (retried); node answers are not.
    pub fn map_error(&self, what: &str, e: &TransportError) -> LedgerError {
        match e {
            RpcError::Transport(kind) => self.unreachable(format!(
                "{what}: {kind} (is the node running and is the URL right?)"
            )),
            RpcError::ErrorResp(payload) => {
                if let Some(known) = explain_node_message(&payload.message) {
                    return known;
                }
                if let Some(data) = payload.as_revert_data() {
                    return explain_revert(&data);
                }
                LedgerError::Rejected(format!(
                    "{what}: the node answered error {}: {}",
                    payload.code, payload.message
                ))
            }
            other => LedgerError::Other(format!("{what}: {other}")),
        }
    }

    pub async fn block_number(&self) -> Result<u64, LedgerError> {
        self.rpc("eth_blockNumber", self.provider.get_block_number())
            .await
    }
}

/// Node messages that have a fix worth naming.
fn explain_node_message(message: &str) -> Option<LedgerError> {
    let m = message.to_ascii_lowercase();
    if m.contains("insufficient funds") {
        return Some(LedgerError::Config(format!(
            "the anchoring account cannot pay for gas ({message}); fund it, or use a free-gas network (min gas price 0)"
        )));
    }
    if m.contains("out of gas") || m.contains("gas required exceeds") {
        return Some(LedgerError::Rejected(format!(
            "out of gas ({message}); anchor fewer batches per transaction or raise the block gas limit"
        )));
    }
    if m.contains("exceeds block gas limit") {
        return Some(LedgerError::Rejected(format!(
            "the transaction exceeds the block gas limit ({message}); anchor fewer batches per transaction"
        )));
    }
    None
}

/// Turns the registry's revert data into an error that says what to fix.
pub(crate) fn explain_revert(data: &[u8]) -> LedgerError {
    match AnchorRegistryErrors::abi_decode(data) {
        Ok(AnchorRegistryErrors::NotAuthorized(e)) => LedgerError::Config(format!(
            "key {} is not authorized to anchor on this registry; the registry owner must run `conanchor-tui ledger authorize {}`",
            e.caller, e.caller
        )),
        Ok(AnchorRegistryErrors::NotOwner(e)) => LedgerError::Config(format!(
            "only the registry owner may authorize collectors, and {} is not the owner; use the key that deployed the registry",
            e.caller
        )),
        Ok(AnchorRegistryErrors::MalformedBatch(e)) => LedgerError::Rejected(format!(
            "the registry refused batch #{} of the transaction as malformed canonical batch bytes",
            e.index
        )),
        Ok(AnchorRegistryErrors::NotNextBatch(e)) => LedgerError::Rejected(format!(
            "the registry refused batch {}: the container's anchored head is batch {}, so only batch {} may follow",
            e.offeredBatchId,
            e.headBatchId,
            e.headBatchId.saturating_add(1)
        )),
        Ok(AnchorRegistryErrors::PreviousHashMismatch(e)) => LedgerError::Rejected(format!(
            "the registry refused batch {}: its previous_container_batch_hash is not the hash of the anchored batch {}",
            e.batchId,
            e.batchId.saturating_sub(1)
        )),
        Err(_) if data.is_empty() => {
            LedgerError::Rejected("the transaction reverted without a reason".into())
        }
        Err(_) => LedgerError::Rejected(format!(
            "the transaction reverted with unknown data 0x{} (is the address an AnchorRegistry?)",
            alloy::primitives::hex::encode(data)
        )),
    }
}

/// Signs and sends transactions from one key.
pub(crate) struct Sender {
    wallet: EthereumWallet,
    pub address: Address,
    chain_id: u64,
    gas_mode: GasMode,
    receipt_timeout: Duration,
    poll_interval: Duration,
    confirmations: u64,
}

/// A mined, successful transaction.
pub(crate) struct Mined {
    pub receipt: TransactionReceipt,
}

impl Sender {
    pub fn new(key: &SecretKey, chain_id: u64, cfg: &EvmConfig) -> Result<Sender, LedgerError> {
        // Never echo the key, not even in part.
        let signer: PrivateKeySigner = key.expose().parse().map_err(|_| {
            LedgerError::Config(format!(
                "the private key (from {} or --besu-key-file) is not a 32-byte hex secp256k1 key",
                super::KEY_ENV
            ))
        })?;
        let address = signer.address();
        Ok(Sender {
            wallet: EthereumWallet::from(signer),
            address,
            chain_id,
            gas_mode: cfg.gas_mode,
            receipt_timeout: cfg.receipt_timeout,
            poll_interval: cfg.poll_interval,
            confirmations: cfg.confirmations.max(1),
        })
    }

    /// Sends a call to `to` (or a contract creation when `to` is `None`) and waits for its
    /// receipt. Reverts are explained; a missing receipt past the timeout is an outage.
    pub async fn send(
        &self,
        node: &Node,
        to: Option<Address>,
        input: Vec<u8>,
    ) -> Result<Mined, LedgerError> {
        let mut req = TransactionRequest::default()
            .with_from(self.address)
            .with_chain_id(self.chain_id);
        req = match to {
            Some(addr) => req.with_to(addr).with_input(input),
            None => req.with_deploy_code(input),
        };
        let nonce = node
            .rpc(
                "eth_getTransactionCount",
                node.provider.get_transaction_count(self.address).pending(),
            )
            .await?;
        req = self.with_fees(node, req.with_nonce(nonce)).await?;
        // Simulate first, with the same fees: a refused anchor costs nothing and its reason
        // comes back.
        let estimate = node
            .rpc("eth_estimateGas", node.provider.estimate_gas(req.clone()))
            .await?;
        let gas_limit = estimate + estimate / 5 + 5_000;
        req = req.with_gas_limit(gas_limit);
        let envelope = req
            .clone()
            .build(&self.wallet)
            .await
            .map_err(|e| LedgerError::Other(format!("signing the transaction: {e}")))?;
        let tx_hash = *envelope.tx_hash();
        let raw = envelope.encoded_2718();
        match tokio::time::timeout(
            self.receipt_timeout,
            node.provider.send_raw_transaction(&raw),
        )
        .await
        {
            Ok(Ok(_)) => {}
            Ok(Err(e)) if is_already_known(&e) => {}
            Ok(Err(e)) => return Err(node.map_error("eth_sendRawTransaction", &e)),
            Err(_) => {
                return Err(node.unreachable(format!(
                    "eth_sendRawTransaction: no answer within {}s",
                    self.receipt_timeout.as_secs()
                )))
            }
        }
        tracing::debug!(tx = %tx_hash, gas_limit, "transaction sent");
        let receipt = self.wait_for_receipt(node, tx_hash).await?;
        if !receipt.status() {
            return Err(self.explain_failure(node, &req, &receipt, gas_limit).await);
        }
        Ok(Mined { receipt })
    }

    async fn with_fees(
        &self,
        node: &Node,
        req: TransactionRequest,
    ) -> Result<TransactionRequest, LedgerError> {
        let base_fee = match self.gas_mode {
            GasMode::Legacy => None,
            GasMode::Auto | GasMode::Eip1559 => {
                let block = node
                    .rpc(
                        "eth_getBlockByNumber",
                        node.provider.get_block_by_number(BlockNumberOrTag::Latest),
                    )
                    .await?;
                block.and_then(|b| b.header.base_fee_per_gas)
            }
        };
        match (self.gas_mode, base_fee) {
            (GasMode::Eip1559, None) => Err(LedgerError::Config(
                "the node's blocks have no base fee (a pre-London chain): use legacy gas".into(),
            )),
            (_, Some(base)) => {
                let price = node
                    .rpc("eth_gasPrice", node.provider.get_gas_price())
                    .await?;
                // A free-gas network (min gas price 0) asks for nothing: tip nothing, so
                // unfunded accounts can send.
                let tip = if price == 0 {
                    0
                } else {
                    match node
                        .rpc(
                            "eth_maxPriorityFeePerGas",
                            node.provider.get_max_priority_fee_per_gas(),
                        )
                        .await
                    {
                        Ok(tip) => tip,
                        Err(e) if e.is_transient() => return Err(e),
                        // Nodes without the method: the legacy price above the base fee.
                        Err(_) => price.saturating_sub(u128::from(base)),
                    }
                };
                let max_fee = u128::from(base) * 2 + tip;
                Ok(req
                    .with_max_fee_per_gas(max_fee)
                    .with_max_priority_fee_per_gas(tip))
            }
            (_, None) => {
                let price = node
                    .rpc("eth_gasPrice", node.provider.get_gas_price())
                    .await?;
                Ok(req.with_gas_price(price))
            }
        }
    }

    async fn wait_for_receipt(
        &self,
        node: &Node,
        tx_hash: TxHash,
    ) -> Result<TransactionReceipt, LedgerError> {
        let deadline = Instant::now() + self.receipt_timeout;
        let timed_out = |what: &str| {
            node.unreachable(format!(
                "no {what} for transaction {tx_hash} within {}s: is the node sealing blocks? \
                 The batches stay pending and a retry finds them if it is mined later",
                self.receipt_timeout.as_secs()
            ))
        };
        let receipt = loop {
            match node
                .rpc(
                    "eth_getTransactionReceipt",
                    node.provider.get_transaction_receipt(tx_hash),
                )
                .await
            {
                Ok(Some(r)) => break r,
                Ok(None) => {}
                // A hiccup while waiting is not yet an outage.
                Err(e) if e.is_transient() && Instant::now() < deadline => {}
                Err(e) => return Err(e),
            }
            if Instant::now() >= deadline {
                return Err(timed_out("receipt"));
            }
            tokio::time::sleep(self.poll_interval).await;
        };
        let Some(mined_in) = receipt.block_number else {
            return Err(LedgerError::Other(format!(
                "the receipt of {tx_hash} has no block number"
            )));
        };
        let wanted = mined_in + self.confirmations - 1;
        while node.block_number().await? < wanted {
            if Instant::now() >= deadline {
                return Err(timed_out("confirmations"));
            }
            tokio::time::sleep(self.poll_interval).await;
        }
        Ok(receipt)
    }

    async fn explain_failure(
        &self,
        node: &Node,
        req: &TransactionRequest,
        receipt: &TransactionReceipt,
        gas_limit: u64,
    ) -> LedgerError {
        let tx = receipt.transaction_hash;
        if receipt.gas_used >= gas_limit {
            return LedgerError::Rejected(format!(
                "out of gas: transaction {tx} used its whole gas limit {gas_limit}; anchor fewer batches per transaction"
            ));
        }
        // Replay the call in the block before to get the revert reason.
        let block = receipt.block_number.unwrap_or(1).saturating_sub(1);
        let replay = node
            .provider
            .call(req.clone())
            .block(alloy::eips::BlockId::number(block));
        match tokio::time::timeout(Duration::from_secs(10), replay.into_future()).await {
            Ok(Err(e)) => match e.as_error_resp().and_then(|p| p.as_revert_data()) {
                Some(data) => explain_revert(&data),
                None => node.map_error(&format!("transaction {tx} reverted"), &e),
            },
            _ => LedgerError::Rejected(format!(
                "transaction {tx} reverted (gas used {} of {gas_limit})",
                receipt.gas_used
            )),
        }
    }

    pub async fn balance(&self, node: &Node) -> Result<U256, LedgerError> {
        node.rpc("eth_getBalance", node.provider.get_balance(self.address))
            .await
    }
}

fn is_already_known(e: &TransportError) -> bool {
    e.as_error_resp().is_some_and(|p| {
        let m = p.message.to_ascii_lowercase();
        m.contains("already known") || m.contains("known transaction")
    })
}

/// `eth_call` of the registry, decoded.
pub(crate) async fn view<C: alloy::sol_types::SolCall>(
    node: &Node,
    contract: Address,
    call: C,
) -> Result<C::Return, LedgerError> {
    let req = TransactionRequest::default()
        .with_to(contract)
        .with_input(Bytes::from(call.abi_encode()));
    let out = node
        .rpc(C::SIGNATURE, node.provider.call(req).into_future())
        .await?;
    C::abi_decode_returns(&out).map_err(|e| {
        LedgerError::Config(format!(
            "{contract} did not answer {} like an AnchorRegistry ({e}); check --besu-contract-address",
            C::SIGNATURE
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evm::contract::AnchorRegistry;
    use alloy::sol_types::SolError;

    #[test]
    fn reverts_say_what_to_fix() {
        let caller = Address::repeat_byte(0x11);
        let data = AnchorRegistry::NotAuthorized { caller }.abi_encode();
        let msg = explain_revert(&data).to_string();
        assert!(
            msg.contains("not authorized") && msg.contains("ledger authorize"),
            "{msg}"
        );
        let data = AnchorRegistry::NotNextBatch {
            containerKey: Default::default(),
            headBatchId: 4,
            offeredBatchId: 7,
        }
        .abi_encode();
        let msg = explain_revert(&data).to_string();
        assert!(
            msg.contains("head is batch 4") && msg.contains("only batch 5"),
            "{msg}"
        );
        assert!(explain_revert(&[]).to_string().contains("without a reason"));
    }

    #[test]
    fn node_messages_name_the_fix() {
        let e = explain_node_message("insufficient funds for gas * price + value").unwrap();
        assert!(matches!(e, LedgerError::Config(_)));
        assert!(explain_node_message("nonce too low").is_none());
    }

    #[test]
    fn bad_urls_are_config_errors() {
        let t = Duration::from_secs(1);
        assert!(matches!(
            Node::new("not a url", t),
            Err(LedgerError::Config(_))
        ));
        assert!(matches!(
            Node::new("ws://127.0.0.1:8546", t),
            Err(LedgerError::Config(_))
        ));
        assert!(Node::new("http://127.0.0.1:8545", t).is_ok());
    }
}
