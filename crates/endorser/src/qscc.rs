//! `qscc`, Fabric's query system chaincode, over a ledger snapshot: `GetChainInfo`
//! (`common.BlockchainInfo`), `GetBlockByNumber`, `GetBlockByHash`, `GetBlockByTxID`
//! (`common.Block` bytes as stored) and `GetTransactionByID` (`protos.ProcessedTransaction`).
//! Cambium adds `GetStateDigest`: the height and the SHA-256 digest of the whole world state
//! from one snapshot, as the text `<height> <hex digest>`, so that operators and tests can check
//! that peers agree (two peers at the same height must have the same digest).
//!
//! As in Fabric, `args[1]` names the channel to query, the Writers ACL of ordinary proposals
//! does not apply, and each function checks its own ACL (`qscc/<Function>`), which defaults to
//! `/Channel/Application/Readers`. Failures are `Response{500, message}` from the chaincode,
//! so they travel in an unendorsed proposal response like any contract error.

use cambium_ledger::Block;
use cambium_primitives::ChaincodeResponse;
use cambium_wire::{common, peer, Message};

use crate::endorser::LedgerView;

/// The name proposals use for the query system chaincode.
pub const QSCC: &str = "qscc";

/// The version string put in `ChaincodeAction.chaincode_id` for system chaincodes.
pub const SYSTEM_CHAINCODE_VERSION: &str = "syscc";

/// The channel policy a `qscc` function requires (Fabric's default ACL for `qscc/*`).
pub const QSCC_POLICY: &str = "/Channel/Application/Readers";

/// The channel a `qscc` call queries (`args[1]`), if the call names one.
pub fn target_channel(args: &[Vec<u8>]) -> Option<String> {
    args.get(1)
        .and_then(|a| std::str::from_utf8(a).ok())
        .map(str::to_owned)
}

fn arg<'a>(args: &'a [Vec<u8>], i: usize, function: &str, what: &str) -> Result<&'a str, String> {
    let value = args
        .get(i)
        .ok_or_else(|| format!("missing {what} for {function}"))?;
    std::str::from_utf8(value).map_err(|_| format!("{what} for {function} is not UTF-8"))
}

/// The response to a `qscc` call that names no channel (fewer than two arguments, or a
/// channel name that is not UTF-8).
pub fn invoke_without_channel(args: &[Vec<u8>]) -> ChaincodeResponse {
    invoke_with(args, |_| Err("no channel".to_owned()))
}

/// Runs a `qscc` call (`args[0]` the function, `args[1]` the channel) against `ledger`.
pub fn invoke(ledger: &dyn LedgerView, args: &[Vec<u8>]) -> ChaincodeResponse {
    invoke_with(args, |args| run(ledger, args))
}

fn invoke_with(
    args: &[Vec<u8>],
    run: impl FnOnce(&[Vec<u8>]) -> Result<Vec<u8>, String>,
) -> ChaincodeResponse {
    if args.len() < 2 {
        return ChaincodeResponse::error(format!(
            "Incorrect number of arguments, {}; qscc functions take the function name and the channel name first",
            args.len()
        ));
    }
    if std::str::from_utf8(&args[1]).is_err() {
        return ChaincodeResponse::error("the channel name (argument 2) is not UTF-8");
    }
    match run(args) {
        Ok(payload) => ChaincodeResponse::ok(payload),
        Err(message) => ChaincodeResponse::error(message),
    }
}

fn run(ledger: &dyn LedgerView, args: &[Vec<u8>]) -> Result<Vec<u8>, String> {
    if args.len() < 2 {
        return Err(format!(
            "Incorrect number of arguments, {}; qscc functions take the function name and the channel name first",
            args.len()
        ));
    }
    let function = std::str::from_utf8(&args[0]).map_err(|_| "function name is not UTF-8")?;
    let channel = arg(args, 1, function, "channel name")?;
    match function {
        "GetChainInfo" => chain_info(ledger),
        "GetBlockByNumber" => {
            let text = arg(args, 2, function, "block number")?;
            let number: u64 = text.parse().map_err(|_| {
                format!("Failed to parse block number with error strconv.ParseUint: parsing {text:?}: invalid syntax")
            })?;
            let block = ledger
                .block(number)
                .map_err(|e| format!("Failed to get block number {number}, error {e}"))?
                .ok_or_else(|| {
                    format!("Failed to get block number {number}, error entry not found in index")
                })?;
            Ok(block.bytes)
        }
        "GetBlockByHash" => {
            let hash = args
                .get(2)
                .ok_or_else(|| format!("missing block hash for {function}"))?;
            let block = ledger
                .block_by_hash(hash)
                .map_err(|e| format!("Failed to get block hash {}, error {e}", hex(hash)))?
                .ok_or_else(|| {
                    format!("Failed to get block hash {}, error entry not found in index", hex(hash))
                })?;
            Ok(block.bytes)
        }
        "GetBlockByTxID" => {
            let tx_id = arg(args, 2, function, "transaction ID")?;
            let block = ledger
                .block_by_tx_id(tx_id)
                .map_err(|e| format!("Failed to get block for txID {tx_id}, error {e}"))?
                .ok_or_else(|| {
                    format!("Failed to get block for txID {tx_id}, error entry not found in index")
                })?;
            Ok(block.bytes)
        }
        "GetTransactionByID" => {
            let tx_id = arg(args, 2, function, "transaction ID")?;
            processed_transaction(ledger, tx_id)
                .map_err(|e| format!("Failed to get transaction with id {tx_id}, error {e}"))
        }
        "GetStateDigest" => {
            let failed = |e: cambium_ledger::LedgerError| format!("Failed to digest the state: {e}");
            let height = ledger.height().map_err(failed)?;
            let digest = ledger.state_digest().map_err(failed)?;
            Ok(format!("{height} {}", hex(&digest)).into_bytes())
        }
        other => Err(format!(
            "Requested function {other} not found; qscc offers GetChainInfo, GetBlockByNumber, GetBlockByHash, GetBlockByTxID, GetTransactionByID and GetStateDigest (channel {channel})"
        )),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn chain_info(ledger: &dyn LedgerView) -> Result<Vec<u8>, String> {
    let failed =
        |e: cambium_ledger::LedgerError| format!("Failed to get block info with error {e}");
    let height = ledger.height().map_err(failed)?;
    let (current, previous) = match height.checked_sub(1) {
        None => (Vec::new(), Vec::new()),
        Some(last) => {
            let block = ledger.block(last).map_err(failed)?.ok_or_else(|| {
                format!("Failed to get block info with error block {last} missing")
            })?;
            let decoded = Block::decode(&block.bytes).map_err(failed)?;
            (block.hash.to_vec(), decoded.previous_hash)
        }
    };
    Ok(common::BlockchainInfo {
        height,
        current_block_hash: current,
        previous_block_hash: previous,
        bootstrapping_snapshot_info: None,
    }
    .encode_to_vec())
}

fn processed_transaction(ledger: &dyn LedgerView, tx_id: &str) -> Result<Vec<u8>, String> {
    let location = ledger
        .transaction(tx_id)
        .map_err(|e| e.to_string())?
        .ok_or("entry not found in index")?;
    let stored = ledger
        .block(location.block_num)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("block {} missing", location.block_num))?;
    let block = Block::decode(&stored.bytes).map_err(|e| e.to_string())?;
    let envelope = usize::try_from(location.tx_num)
        .ok()
        .and_then(|i| block.data.get(i))
        .ok_or_else(|| {
            format!(
                "transaction {} missing from block {}",
                location.tx_num, location.block_num
            )
        })?;
    let envelope = common::Envelope::decode(envelope.as_slice()).map_err(|e| e.to_string())?;
    Ok(peer::ProcessedTransaction {
        transaction_envelope: Some(envelope),
        validation_code: i32::from(location.code.as_u8()),
    }
    .encode_to_vec())
}
