//! [`EvmLedger`]: the [`Ledger`] over an `AnchorRegistry` contract, plus deploy and
//! collector authorization.

use std::collections::HashMap;

use alloy::primitives::{Address, Bytes};
use alloy::providers::Provider;
use alloy::sol_types::SolCall;
use async_trait::async_trait;
use conanchor_store::encoding::encode_batch;
use conanchor_store::{AnchorRecord, BatchHeader, Hash32};
use tokio::sync::Mutex;

use super::contract::{self, container_key, AnchorRegistry, FORMAT_VERSION};
use super::index::LogIndex;
use super::rpc::{view, Mined, Node, Sender};
use super::{EvmConfig, GasMode};
use crate::{AnchorReceipt, ChainCheck, ContainerHead, Ledger, LedgerError, LedgerStatus};

/// An `AnchorRegistry` on an Ethereum JSON-RPC node.
pub struct EvmLedger {
    node: Node,
    chain_id: u64,
    address: Address,
    sender: Option<Sender>,
    deploy_block: u64,
    max_batches_per_tx: usize,
    log_block_range: u64,
    gas_mode: GasMode,
    index: Mutex<LogIndex>,
    /// One anchoring transaction at a time from this process (nonces, idempotency checks).
    send_lock: Mutex<()>,
}

/// What to do with one offered batch.
enum Step {
    /// Already anchored with the same hash: its existing receipt.
    Existing(AnchorReceipt),
    /// To be sent (index into the offered batches).
    Send(usize),
}

async fn node_chain_id(node: &Node, cfg: &EvmConfig) -> Result<u64, LedgerError> {
    let chain_id = node
        .rpc("eth_chainId", node.provider.get_chain_id())
        .await?;
    if let Some(want) = cfg.expected_chain_id() {
        if want != chain_id {
            return Err(LedgerError::Config(format!(
                "wrong chain id: --besu-chain-id is {want} but the node at {} reports {chain_id}; pass --besu-chain-id {chain_id}, or 0 to read it from the node",
                cfg.rpc_url
            )));
        }
    }
    Ok(chain_id)
}

fn need_key(cfg: &EvmConfig, chain_id: u64, action: &str) -> Result<Sender, LedgerError> {
    let key = cfg.private_key.as_ref().ok_or_else(|| {
        LedgerError::Config(format!(
            "{action} needs a private key: set {} or pass --besu-key-file",
            super::KEY_ENV
        ))
    })?;
    Sender::new(key, chain_id, cfg)
}

/// Deploys a new registry signed by `cfg.private_key` (its owner, and its first authorized
/// collector) and returns its address.
pub async fn deploy(cfg: &EvmConfig) -> Result<Address, LedgerError> {
    let node = Node::new(&cfg.rpc_url, cfg.rpc_timeout)?;
    let chain_id = node_chain_id(&node, cfg).await?;
    let sender = need_key(cfg, chain_id, "deploying the registry")?;
    let mined = sender.send(&node, None, contract::creation_code()).await?;
    let address = mined
        .receipt
        .contract_address
        .ok_or_else(|| LedgerError::Other("the deploy receipt has no contract address".into()))?;
    tracing::info!(%address, chain_id, tx = %mined.receipt.transaction_hash, "AnchorRegistry deployed");
    Ok(address)
}

impl EvmLedger {
    /// Connects and checks: the node answers, the chain id matches (when given), and the
    /// address holds an `AnchorRegistry` of evidence format v1. Whether our key may anchor
    /// is checked when anchoring (and shown by [`Ledger::status`]).
    pub async fn connect(cfg: EvmConfig) -> Result<EvmLedger, LedgerError> {
        let node = Node::new(&cfg.rpc_url, cfg.rpc_timeout)?;
        let chain_id = node_chain_id(&node, &cfg).await?;
        let text = cfg.contract_address.as_deref().unwrap_or("").trim();
        if text.is_empty() {
            return Err(LedgerError::Config(
                "no registry address: deploy one with `conanchor-tui ledger deploy` and pass --besu-contract-address".into(),
            ));
        }
        let address: Address = text.parse().map_err(|_| {
            LedgerError::Config(format!(
                "--besu-contract-address {text:?} is not an address (0x followed by 40 hex characters)"
            ))
        })?;
        let code = node
            .rpc("eth_getCode", node.provider.get_code_at(address))
            .await?;
        if code.is_empty() {
            return Err(LedgerError::Config(format!(
                "no contract code at {address} on chain {chain_id} ({}): wrong address or network, or a dev node restarted without its state; deploy with `conanchor-tui ledger deploy`",
                cfg.rpc_url
            )));
        }
        let version = view(&node, address, AnchorRegistry::FORMAT_VERSIONCall {}).await?;
        if version != alloy::primitives::U256::from(FORMAT_VERSION) {
            return Err(LedgerError::Config(format!(
                "the registry at {address} speaks evidence format {version}, this build format {FORMAT_VERSION}"
            )));
        }
        let deploy_block = view(&node, address, AnchorRegistry::deployBlockCall {}).await?;
        let sender = cfg
            .private_key
            .as_ref()
            .map(|k| Sender::new(k, chain_id, &cfg))
            .transpose()?;
        Ok(EvmLedger {
            node,
            chain_id,
            address,
            sender,
            deploy_block: u64::try_from(deploy_block).unwrap_or(0),
            max_batches_per_tx: cfg.max_batches_per_tx.max(1),
            log_block_range: cfg.log_block_range,
            gas_mode: cfg.gas_mode,
            index: Mutex::new(LogIndex::default()),
            send_lock: Mutex::new(()),
        })
    }

    pub fn address(&self) -> Address {
        self.address
    }

    pub fn chain_id(&self) -> u64 {
        self.chain_id
    }

    /// The address of our key, when one was given.
    pub fn signer_address(&self) -> Option<Address> {
        self.sender.as_ref().map(|s| s.address)
    }

    pub fn rpc_url(&self) -> &str {
        &self.node.url
    }

    pub async fn owner(&self) -> Result<Address, LedgerError> {
        view(&self.node, self.address, AnchorRegistry::ownerCall {}).await
    }

    pub async fn is_authorized(&self, collector: Address) -> Result<bool, LedgerError> {
        view(
            &self.node,
            self.address,
            AnchorRegistry::authorizedCall(collector),
        )
        .await
    }

    /// Allows (or stops) `collector` to anchor; only the owner's key may. Returns the tx hash.
    pub async fn set_collector(
        &self,
        collector: Address,
        allowed: bool,
    ) -> Result<String, LedgerError> {
        let sender = self.sender()?;
        let _guard = self.send_lock.lock().await;
        let input = AnchorRegistry::setCollectorCall { collector, allowed }.abi_encode();
        let mined = sender.send(&self.node, Some(self.address), input).await?;
        Ok(mined.receipt.transaction_hash.to_string())
    }

    pub async fn authorize(&self, collector: Address) -> Result<String, LedgerError> {
        self.set_collector(collector, true).await
    }

    fn sender(&self) -> Result<&Sender, LedgerError> {
        self.sender.as_ref().ok_or_else(|| {
            LedgerError::Config(format!(
                "anchoring needs a private key: set {} or pass --besu-key-file",
                super::KEY_ENV
            ))
        })
    }

    async fn synced(&self) -> Result<tokio::sync::MutexGuard<'_, LogIndex>, LedgerError> {
        let mut index = self.index.lock().await;
        index
            .sync(
                &self.node,
                self.address,
                self.deploy_block,
                self.log_block_range,
            )
            .await?;
        Ok(index)
    }

    /// The registry's stored head of a container: (batch id, first 24 bytes of its hash).
    async fn stored_head(&self, cid: &str) -> Result<(u64, [u8; 24]), LedgerError> {
        let head = view(
            &self.node,
            self.address,
            AnchorRegistry::headOfCall {
                containerKey: container_key(cid),
            },
        )
        .await?;
        Ok((head.batchId, head.batchHashPrefix.0))
    }

    /// The stored head, completed with the full hash from the logs; `(0, ZERO)` when the
    /// container has no anchor.
    async fn head_of(&self, index: &LogIndex, cid: &str) -> Result<(u64, Hash32), LedgerError> {
        let (id, prefix) = self.stored_head(cid).await?;
        if id == 0 {
            return Ok((0, Hash32::ZERO));
        }
        match index.get(cid, id) {
            Some(rec) if rec.header.container_batch_hash.0[..24] == prefix => {
                Ok((id, rec.header.container_batch_hash))
            }
            Some(rec) => Err(LedgerError::Other(format!(
                "the registry's head of {cid} is batch {id} with hash {}…, but its log says {}",
                alloy::primitives::hex::encode(&prefix[..6]),
                rec.header.container_batch_hash.short()
            ))),
            None => Err(LedgerError::Other(format!(
                "the registry's head of {cid} is batch {id}, but the node returns no log for it (a node that prunes logs cannot serve verification)"
            ))),
        }
    }

    /// Decides, per offered batch, whether it is already anchored (same hash: its receipt;
    /// another hash: [`LedgerError::Conflict`]) or must be sent, and that the ones to send
    /// extend the anchored chains.
    async fn plan(&self, batches: &[BatchHeader]) -> Result<Vec<Step>, LedgerError> {
        let index = self.synced().await?;
        let mut heads: HashMap<&str, (u64, Hash32)> = HashMap::new();
        let mut steps = Vec::with_capacity(batches.len());
        for (i, b) in batches.iter().enumerate() {
            let cid = b.container_instance_id.as_str();
            let id = b.container_batch_id;
            if id == 0 {
                return Err(LedgerError::Rejected(format!(
                    "batch {cid}/0: batch ids start at 1"
                )));
            }
            if b.compute_hash() != b.container_batch_hash {
                return Err(LedgerError::Rejected(format!(
                    "batch {cid}/{id}: container_batch_hash {} is not the hash of its fields ({}); refusing to anchor it",
                    b.container_batch_hash.short(),
                    b.compute_hash().short()
                )));
            }
            let (head_id, head_hash) = match heads.get(cid) {
                Some(h) => *h,
                None => self.head_of(&index, cid).await?,
            };
            if id <= head_id {
                let Some(rec) = index.get(cid, id) else {
                    return Err(LedgerError::Other(format!(
                        "batch {cid}/{id} is below the registry's head {head_id} but the node returns no log for it"
                    )));
                };
                if rec.header.container_batch_hash != b.container_batch_hash {
                    return Err(LedgerError::Conflict {
                        container_instance_id: cid.to_string(),
                        container_batch_id: id,
                        existing: rec.header.container_batch_hash.to_hex(),
                        offered: b.container_batch_hash.to_hex(),
                    });
                }
                steps.push(Step::Existing(receipt_of(rec)));
            } else if id == head_id + 1 {
                if b.previous_container_batch_hash != head_hash {
                    return Err(LedgerError::Rejected(format!(
                        "batch {cid}/{id} does not extend the anchored chain: its previous_container_batch_hash {} is not {}, the hash of batch {head_id}",
                        b.previous_container_batch_hash.short(),
                        head_hash.short()
                    )));
                }
                heads.insert(cid, (id, b.container_batch_hash));
                steps.push(Step::Send(i));
            } else {
                return Err(LedgerError::Rejected(format!(
                    "batch {cid}/{id} would leave a gap: the last anchored batch of {cid} is {head_id}, so batches {}..{} must be anchored first",
                    head_id + 1,
                    id - 1
                )));
            }
        }
        Ok(steps)
    }

    /// Sends one `anchor` transaction with `batches` (no checks; see [`Self::plan`]).
    pub(crate) async fn send_anchor(&self, batches: &[&BatchHeader]) -> Result<Mined, LedgerError> {
        let sender = self.sender()?;
        let input = AnchorRegistry::anchorCall {
            batches: batches
                .iter()
                .map(|b| Bytes::from(encode_batch(b)))
                .collect(),
        }
        .abi_encode();
        sender.send(&self.node, Some(self.address), input).await
    }

    /// Sends `batches` in one `anchor` transaction without the client-side checks, so the
    /// contract's own refusals (overwrite, gap, fork) can be exercised by tests and audits.
    pub async fn anchor_unchecked(
        &self,
        batches: &[BatchHeader],
    ) -> Result<Vec<AnchorReceipt>, LedgerError> {
        let _guard = self.send_lock.lock().await;
        let mined = self
            .send_anchor(&batches.iter().collect::<Vec<_>>())
            .await?;
        let tx_id = mined.receipt.transaction_hash.to_string();
        let block_height = mined.receipt.block_number.unwrap_or_default();
        Ok(batches
            .iter()
            .map(|b| AnchorReceipt {
                container_instance_id: b.container_instance_id.clone(),
                container_batch_id: b.container_batch_id,
                tx_id: tx_id.clone(),
                block_height,
            })
            .collect())
    }

    async fn anchor_locked(
        &self,
        batches: &[BatchHeader],
    ) -> Result<Vec<AnchorReceipt>, LedgerError> {
        let steps = self.plan(batches).await?;
        let to_send: Vec<usize> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Send(i) => Some(*i),
                Step::Existing(_) => None,
            })
            .collect();
        let mut sent: HashMap<usize, AnchorReceipt> = HashMap::new();
        for chunk in to_send.chunks(self.max_batches_per_tx) {
            let headers: Vec<&BatchHeader> = chunk.iter().map(|&i| &batches[i]).collect();
            let mined = self.send_anchor(&headers).await?;
            let tx_id = mined.receipt.transaction_hash.to_string();
            let block_height = mined.receipt.block_number.unwrap_or_default();
            tracing::info!(tx = %tx_id, block_height, batches = chunk.len(), gas = mined.receipt.gas_used, "anchored");
            for (&i, b) in chunk.iter().zip(headers) {
                sent.insert(
                    i,
                    AnchorReceipt {
                        container_instance_id: b.container_instance_id.clone(),
                        container_batch_id: b.container_batch_id,
                        tx_id: tx_id.clone(),
                        block_height,
                    },
                );
            }
        }
        Ok(steps
            .into_iter()
            .filter_map(|s| match s {
                Step::Existing(r) => Some(r),
                Step::Send(i) => sent.remove(&i),
            })
            .collect())
    }
}

fn receipt_of(rec: &AnchorRecord) -> AnchorReceipt {
    AnchorReceipt {
        container_instance_id: rec.header.container_instance_id.clone(),
        container_batch_id: rec.header.container_batch_id,
        tx_id: rec.tx_id.clone().unwrap_or_default(),
        block_height: rec.block_height.unwrap_or_default(),
    }
}

#[async_trait]
impl Ledger for EvmLedger {
    fn backend(&self) -> &'static str {
        "evm"
    }

    async fn anchor(&self, batches: &[BatchHeader]) -> Result<Vec<AnchorReceipt>, LedgerError> {
        if batches.is_empty() {
            return Ok(Vec::new());
        }
        self.sender()?;
        let _guard = self.send_lock.lock().await;
        match self.anchor_locked(batches).await {
            Ok(r) => Ok(r),
            // A refused transaction may have lost a race with an earlier one of ours that was
            // mined late (after a receipt timeout): then everything is anchored already.
            Err(e) if !e.is_transient() && !matches!(e, LedgerError::Conflict { .. }) => {
                match self.plan(batches).await {
                    Ok(steps) if steps.iter().all(|s| matches!(s, Step::Existing(_))) => Ok(steps
                        .into_iter()
                        .filter_map(|s| match s {
                            Step::Existing(r) => Some(r),
                            Step::Send(_) => None,
                        })
                        .collect()),
                    _ => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    async fn get_anchor(
        &self,
        container_instance_id: &str,
        container_batch_id: u64,
    ) -> Result<Option<AnchorRecord>, LedgerError> {
        {
            // Anchors never change: a hit needs no round trip.
            let index = self.index.lock().await;
            if let Some(rec) = index.get(container_instance_id, container_batch_id) {
                return Ok(Some(rec.clone()));
            }
        }
        let index = self.synced().await?;
        Ok(index
            .get(container_instance_id, container_batch_id)
            .cloned())
    }

    async fn list_anchors(
        &self,
        container_instance_id: &str,
    ) -> Result<Vec<AnchorRecord>, LedgerError> {
        let index = self.synced().await?;
        Ok(index
            .anchors
            .get(container_instance_id)
            .map(|m| m.values().cloned().collect())
            .unwrap_or_default())
    }

    async fn list_containers(&self) -> Result<Vec<String>, LedgerError> {
        let index = self.synced().await?;
        Ok(index.anchors.keys().cloned().collect())
    }

    /// The registry's code is the committed one, each container's logged anchors form an
    /// unbroken hash chain from batch 1, and the stored head is the last logged anchor.
    async fn verify_chain(&self) -> Result<ChainCheck, LedgerError> {
        let mut problems = Vec::new();
        let code = self
            .node
            .rpc("eth_getCode", self.node.provider.get_code_at(self.address))
            .await?;
        if code.is_empty() {
            problems.push(format!("no contract code at {} any more", self.address));
            return Ok(ChainCheck {
                problems,
                blocks_checked: 0,
            });
        }
        if !contract::code_matches_artifact(&code) {
            problems.push(format!(
                "the code at {} is not the committed AnchorRegistry (contracts/out)",
                self.address
            ));
        }
        let index = self.synced().await?;
        problems.extend(index.problems.iter().cloned());
        for (cid, anchors) in &index.anchors {
            let mut expected_id = 1;
            let mut prev = Hash32::ZERO;
            for (&id, rec) in anchors {
                if id != expected_id {
                    problems.push(format!(
                        "{cid}: batch {id} follows batch {}",
                        expected_id - 1
                    ));
                }
                if rec.header.previous_container_batch_hash != prev {
                    problems.push(format!(
                        "{cid}/{id}: previous_container_batch_hash {} is not the hash {} of the batch before",
                        rec.header.previous_container_batch_hash.short(),
                        prev.short()
                    ));
                }
                prev = rec.header.container_batch_hash;
                expected_id = id + 1;
            }
            let (head_id, prefix) = self.stored_head(cid).await?;
            let last = anchors.keys().next_back().copied().unwrap_or(0);
            if head_id != last || prefix[..] != prev.0[..24] {
                problems.push(format!(
                    "{cid}: the registry's head is batch {head_id} but the logs end at batch {last}"
                ));
            }
        }
        Ok(ChainCheck {
            problems,
            blocks_checked: index.count,
        })
    }

    async fn container_head(
        &self,
        container_instance_id: &str,
    ) -> Result<Option<ContainerHead>, LedgerError> {
        let index = self.synced().await?;
        let (id, hash) = self.head_of(&index, container_instance_id).await?;
        Ok((id > 0).then_some(ContainerHead {
            container_batch_id: id,
            container_batch_hash: hash,
        }))
    }

    async fn status(&self) -> Result<LedgerStatus, LedgerError> {
        let node = &self.node;
        let chain_id = node
            .rpc("eth_chainId", node.provider.get_chain_id())
            .await?;
        let code = node
            .rpc("eth_getCode", node.provider.get_code_at(self.address))
            .await?;
        let code_state = if code.is_empty() {
            "none (wrong address, or the node lost its state)".to_string()
        } else if contract::code_matches_artifact(&code) {
            format!("AnchorRegistry v{FORMAT_VERSION} (matches contracts/out)")
        } else {
            "present, but not the committed AnchorRegistry".to_string()
        };
        let (head_height, anchor_count, log_problems) = if code.is_empty() {
            (node.block_number().await?, 0, 0)
        } else {
            let index = self.synced().await?;
            let latest = match index.synced_block() {
                Some(b) => b,
                None => node.block_number().await?,
            };
            (latest, index.count, index.problems.len())
        };
        let head_hash = node
            .rpc(
                "eth_getBlockByNumber",
                node.provider
                    .get_block_by_number(alloy::eips::BlockNumberOrTag::Number(head_height)),
            )
            .await?
            .map(|b| b.header.hash.to_string());
        let mut details = vec![
            ("contract".to_string(), self.address.to_string()),
            ("code".to_string(), code_state),
            ("deploy block".to_string(), self.deploy_block.to_string()),
        ];
        if !code.is_empty() {
            details.push(("owner".to_string(), self.owner().await?.to_string()));
        }
        match &self.sender {
            Some(sender) => {
                details.push(("signer".to_string(), sender.address.to_string()));
                if !code.is_empty() {
                    let ok = self.is_authorized(sender.address).await?;
                    details.push((
                        "signer authorized".to_string(),
                        if ok {
                            "yes"
                        } else {
                            "no (ask the owner to run `ledger authorize`)"
                        }
                        .to_string(),
                    ));
                }
                details.push((
                    "signer balance (wei)".to_string(),
                    sender.balance(node).await?.to_string(),
                ));
            }
            None => details.push(("signer".to_string(), "none (read-only)".to_string())),
        }
        details.push((
            "gas".to_string(),
            format!("{:?}", self.gas_mode).to_lowercase(),
        ));
        details.push(("log problems".to_string(), log_problems.to_string()));
        Ok(LedgerStatus {
            backend: "evm".into(),
            location: node.url.clone(),
            head_height,
            head_hash,
            anchor_count,
            chain_id: Some(chain_id),
            details,
        })
    }
}
