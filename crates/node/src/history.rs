//! `cambium contract history NAME`: every lifecycle event of one contract, read from the blocks
//! themselves, so the answer is what the ledger records and not what a peer's state says now.
//!
//! An event is an endorser transaction to `_lifecycle` whose arguments name the contract: an
//! organisation's approval, a commit of a definition (with its canary plan, if any), and
//! Cambium's rollout steps (advance, pause, resume, promote, abort) and governance acts (freeze,
//! unfreeze, retire, with their reason). Each comes
//! with the block and transaction that carry it, the client that signed it, the organisations
//! whose peers endorsed it, and its validation code, so refused attempts (a commit without
//! enough approvals that still reached a block, a failed migration) are listed as well, marked.
//! Installs never reach the ledger: they are per-peer and are not part of the history. An
//! approval that sent the package's owner signatures (Cambium field 1003) names its signers.

use cambium_msp::Certificate;
use cambium_wire::cambium_lifecycle as cl;
use cambium_wire::common;
use cambium_wire::lifecycle as lc;
use cambium_wire::Message;
use serde::Serialize;

use crate::blocks::{endorser_transactions, EndorserTx};
use crate::error::Result;

/// The name of Fabric's lifecycle system contract.
pub const LIFECYCLE: &str = "_lifecycle";

/// One lifecycle event of a contract.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HistoryEvent {
    /// The block that carries it.
    pub block: u64,
    /// The transaction ID.
    pub tx_id: String,
    /// The client's timestamp, RFC 3339 in UTC.
    pub timestamp: String,
    /// What happened: `approve`, `commit`, `rollout-advance`, `rollout-abort`, `freeze`, …
    pub action: String,
    /// The definition's sequence, when the event names one.
    pub sequence: Option<i64>,
    /// The definition's version, when the event names one.
    pub version: Option<String>,
    /// More detail (the package an organisation approved, a rollout weight).
    pub detail: String,
    /// The MSP ID of the client that signed the transaction.
    pub signer_msp: String,
    /// The client's certificate subject common name (or the whole subject if it has none).
    pub signer: String,
    /// The MSP IDs of the peers that endorsed it.
    pub endorsers: Vec<String>,
    /// Whether the peers committed it as valid.
    pub valid: bool,
    /// The validation code's name (`VALID`, `ENDORSEMENT_POLICY_FAILURE`, …).
    pub validation: String,
}

/// The lifecycle events of contract `name` in `blocks`, oldest first.
pub fn contract_history(blocks: &[common::Block], name: &str) -> Result<Vec<HistoryEvent>> {
    let mut events = Vec::new();
    for block in blocks {
        for tx in endorser_transactions(block)? {
            if tx.chaincode != LIFECYCLE {
                continue;
            }
            if let Some(event) = lifecycle_event(&tx, name) {
                events.push(event);
            }
        }
    }
    Ok(events)
}

/// What a `_lifecycle` call says about contract `name`, if it is about that contract.
fn lifecycle_event(tx: &EndorserTx, name: &str) -> Option<HistoryEvent> {
    let function = tx.function();
    let arg = tx.args.get(1).map(Vec::as_slice).unwrap_or_default();
    let (action, sequence, version, detail) = match function.as_str() {
        "ApproveChaincodeDefinitionForMyOrg" => {
            let args = lc::ApproveChaincodeDefinitionForMyOrgArgs::decode(arg).ok()?;
            if args.name != name {
                return None;
            }
            let package = match args.source.and_then(|s| s.r#type) {
                Some(lc::chaincode_source::Type::LocalPackage(local)) => {
                    format!("package {}", local.package_id)
                }
                _ => "no package (approved without installing)".to_owned(),
            };
            let detail = format!(
                "{} approves; {package}{}{}",
                tx.creator.msp_id,
                signers_detail(arg),
                rollout_detail(arg)
            );
            ("approve", Some(args.sequence), Some(args.version), detail)
        }
        "CommitChaincodeDefinition" => {
            let args = lc::CommitChaincodeDefinitionArgs::decode(arg).ok()?;
            if args.name != name {
                return None;
            }
            let mut detail = rollout_detail(arg);
            if args.init_required {
                detail.insert_str(0, "init required");
            } else if let Some(rest) = detail.strip_prefix("; ") {
                detail = rest.to_owned();
            }
            ("commit", Some(args.sequence), Some(args.version), detail)
        }
        "AdvanceRollout" | "PauseRollout" | "ResumeRollout" | "PromoteRollout" | "AbortRollout" => {
            let args = cl::RolloutStepArgs::decode(arg).ok()?;
            if args.name != name {
                return None;
            }
            let (action, detail) = match function.as_str() {
                "AdvanceRollout" => (
                    "rollout-advance",
                    format!("canary weight to {}%", args.weight_percent),
                ),
                "PauseRollout" => ("rollout-pause", String::new()),
                "ResumeRollout" => ("rollout-resume", String::new()),
                "PromoteRollout" => ("rollout-promote", "all traffic to the new version".into()),
                _ => (
                    "rollout-abort",
                    "all traffic back to the previous version".into(),
                ),
            };
            (action, None, None, detail)
        }
        "FreezeContract" | "UnfreezeContract" | "RetireContract" => {
            let args = cl::ContractStateArgs::decode(arg).ok()?;
            if args.name != name {
                return None;
            }
            let action = match function.as_str() {
                "FreezeContract" => "freeze",
                "UnfreezeContract" => "unfreeze",
                _ => "retire",
            };
            (action, None, None, args.reason)
        }
        _ => return None,
    };
    Some(HistoryEvent {
        block: tx.block,
        tx_id: tx.tx_id.clone(),
        timestamp: rfc3339(tx.timestamp.seconds, tx.timestamp.nanos),
        action: action.to_owned(),
        sequence,
        version,
        detail,
        signer_msp: tx.creator.msp_id.clone(),
        signer: signer_name(&tx.creator.id_bytes),
        endorsers: tx.endorsers.clone(),
        valid: tx.is_valid(),
        validation: tx.validation_name(),
    })
}

/// The rollout plan a definition's arguments carry (Cambium's field 1001), in words.
fn rollout_detail(arg: &[u8]) -> String {
    let Some(plan) = cl::RolloutExtension::decode(arg)
        .ok()
        .and_then(|e| e.rollout)
    else {
        return String::new();
    };
    let mut parts = vec![format!("canary {}%", plan.weight_percent)];
    if !plan.orgs.is_empty() {
        parts.push(format!("orgs {}", plan.orgs.join(",")));
    }
    if !plan.clients.is_empty() {
        parts.push(format!("{} client(s)", plan.clients.len()));
    }
    if !plan.ous.is_empty() {
        parts.push(format!("OUs {}", plan.ous.join(",")));
    }
    format!("; rollout: {}", parts.join(", "))
}

/// The common name of a PEM certificate, else its subject, else a note that it is unreadable.
/// The package's owner signers an approval sent (Cambium field 1003), e.g.
/// `; signed by Org1MSP (Admin@org1.example.com), Org2MSP (Admin@org2.example.com)`; empty
/// when it sent none.
fn signers_detail(arg: &[u8]) -> String {
    use cambium_lifecycle::package_signing;
    match package_signing::from_message(arg) {
        Ok(Some(signatures)) if !signatures.signatures.is_empty() => format!(
            "; signed by {}",
            signatures
                .signatures
                .iter()
                .map(package_signing::describe_signer)
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => String::new(),
    }
}

fn signer_name(pem: &[u8]) -> String {
    match Certificate::from_pem(pem, "the signer's certificate") {
        Ok(cert) => cert
            .common_name()
            .map(str::to_owned)
            .unwrap_or_else(|| cert.subject().to_owned()),
        Err(_) => "(unreadable certificate)".to_owned(),
    }
}

/// `seconds`/`nanos` since the epoch as RFC 3339 in UTC (e.g. `2026-11-24T05:45:33.25Z`), or
/// the raw numbers if they are out of range.
pub fn rfc3339(seconds: i64, nanos: i32) -> String {
    let total = i128::from(seconds) * 1_000_000_000 + i128::from(nanos.clamp(0, 999_999_999));
    time::OffsetDateTime::from_unix_timestamp_nanos(total)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{seconds}s+{nanos}ns"))
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(
            rfc3339(1_795_499_133, 250_000_000),
            "2026-11-24T05:45:33.25Z"
        );
        // A leap day.
        assert_eq!(rfc3339(951_782_400, 0), "2000-02-29T00:00:00Z");
        // Out of range for a date: the raw numbers, not a panic.
        assert_eq!(rfc3339(i64::MAX, 0), format!("{}s+0ns", i64::MAX));
    }
}
