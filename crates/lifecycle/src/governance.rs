//! Contract governance: freezing, unfreezing and retiring a contract (FISCO BCOS's
//! freeze/abolish), as Cambium extensions of `_lifecycle`.
//!
//! # Functions
//!
//! `FreezeContract`, `UnfreezeContract` and `RetireContract` take a
//! `cambium.lifecycle.ContractStateArgs{name, reason}`, read and rewrite the contract's
//! [`ContractStatus`] under [`status_key`] (`cambium/status/<name>`) and answer the new status;
//! `QueryContractStatus` answers the current one (ACTIVE when none is stored). A contract
//! without a stored status is ACTIVE.
//!
//! | act | from | to |
//! |---|---|---|
//! | `FreezeContract` | ACTIVE | FROZEN |
//! | `UnfreezeContract` | FROZEN | ACTIVE |
//! | `RetireContract` | ACTIVE or FROZEN | RETIRED (final) |
//!
//! The contract must have a committed definition. Anything else (freezing a frozen contract,
//! unfreezing an active one, retiring twice, any act on a retired one) is refused with what to
//! do, and nothing is written.
//!
//! # Policy
//!
//! A governance act is a channel decision: its ACL is an admin of a channel org (the creator),
//! and the validator requires its endorsements to satisfy
//! `/Channel/Application/LifecycleEndorsement` (like a definition commit) and its creator to be
//! a valid admin of a channel org, and the written status to be the act's legal result from the
//! status committed before the block ([`act_between`]), with the status key read (so MVCC
//! orders acts).
//!
//! # Effects
//!
//! - Endorsers refuse proposals to a frozen or retired contract ([`refusal`]).
//! - The validator judges a block against the state before it, so a freeze in block N takes
//!   effect from block N+1: transactions of the frozen contract in block N itself (ordered with
//!   the freeze) stay valid, and from block N+1 every transaction of the contract is invalid
//!   with `ENDORSEMENT_POLICY_FAILURE` (a frozen contract's endorsement policy is treated as
//!   unsatisfiable, as Fabric treats an undefined one). No upgrade grace window applies: a
//!   freeze is an emergency brake.
//! - Retiring is final: `UnfreezeContract` and any approval or commit of a new definition
//!   under that name are refused (by the endorser and by the validator); the queries
//!   (`QueryChaincodeDefinition`, qscc) keep working.

pub use cambium_wire::cambium_lifecycle::{ContractState, ContractStateArgs, ContractStatus};
use cambium_wire::Message;

use crate::error::{LifecycleError, Result};
use crate::state::{Simulation, StateGet};

/// `FreezeContract`.
pub const FREEZE: &str = "FreezeContract";
/// `UnfreezeContract`.
pub const UNFREEZE: &str = "UnfreezeContract";
/// `RetireContract`.
pub const RETIRE: &str = "RetireContract";
/// `QueryContractStatus`.
pub const QUERY_STATUS: &str = "QueryContractStatus";

/// Prefix of the keys holding each contract's governance status.
pub const STATUS_PREFIX: &str = "cambium/status/";

/// `cambium/status/<name>`: where the [`ContractStatus`] of `name` is stored.
pub fn status_key(name: &str) -> String {
    format!("{STATUS_PREFIX}{name}")
}

/// The contract whose status `key` holds, if `key` is a status key.
pub fn status_name(key: &str) -> Option<&str> {
    key.strip_prefix(STATUS_PREFIX).filter(|n| !n.is_empty())
}

/// A governance act.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    /// Stop serving transactions until unfrozen.
    Freeze,
    /// Serve transactions again.
    Unfreeze,
    /// Stop serving transactions for good.
    Retire,
}

impl Act {
    /// The act a `_lifecycle` function names; `None` if `function` is not one.
    pub fn from_function(function: &str) -> Option<Act> {
        Some(match function {
            FREEZE => Act::Freeze,
            UNFREEZE => Act::Unfreeze,
            RETIRE => Act::Retire,
            _ => return None,
        })
    }

    /// The `_lifecycle` function of this act.
    pub fn function(&self) -> &'static str {
        match self {
            Act::Freeze => FREEZE,
            Act::Unfreeze => UNFREEZE,
            Act::Retire => RETIRE,
        }
    }

    /// The state the act leads to.
    pub fn target(&self) -> ContractState {
        match self {
            Act::Freeze => ContractState::Frozen,
            Act::Unfreeze => ContractState::Active,
            Act::Retire => ContractState::Retired,
        }
    }
}

/// Whether `function` is a governance act (not the query).
pub fn is_act(function: &str) -> bool {
    Act::from_function(function).is_some()
}

/// The state of a status; an unknown number reads as FROZEN (the safe side: stored statuses
/// are only ever written by the acts, so none has one).
pub fn state_of(status: &ContractStatus) -> ContractState {
    ContractState::try_from(status.state).unwrap_or(ContractState::Frozen)
}

/// The state of an optional status: ACTIVE when none is stored.
pub fn state_of_opt(status: Option<&ContractStatus>) -> ContractState {
    status.map_or(ContractState::Active, state_of)
}

/// How a state reads in messages: `active`, `frozen`, `retired`.
pub fn state_word(state: ContractState) -> &'static str {
    match state {
        ContractState::Active => "active",
        ContractState::Frozen => "frozen",
        ContractState::Retired => "retired",
    }
}

/// Decodes a stored [`ContractStatus`].
pub fn decode_status(bytes: &[u8]) -> Result<ContractStatus> {
    ContractStatus::decode(bytes).map_err(|e| {
        LifecycleError::Storage(format!(
            "a stored contract status cannot be decoded: {e}; the peer's ledger may be damaged"
        ))
    })
}

/// The status stored for `name`, if any.
pub fn stored_status(state: &mut dyn StateGet, name: &str) -> Result<Option<ContractStatus>> {
    state
        .get(&status_key(name))?
        .map(|bytes| decode_status(&bytes))
        .transpose()
}

/// Stores `status` under its contract's status key.
pub fn write_status(sim: &mut dyn Simulation, status: &ContractStatus) {
    sim.put(&status_key(&status.name), status.encode_to_vec());
}

/// Applies `act` with `reason` to `current`, the stored status of `name`; refuses an act the
/// current state does not allow, saying what to do instead.
pub fn apply(
    current: Option<&ContractStatus>,
    act: Act,
    name: &str,
    reason: &str,
) -> Result<ContractStatus> {
    let function = act.function();
    let state = state_of_opt(current);
    let why = current
        .map(|s| s.reason.as_str())
        .filter(|r| !r.is_empty())
        .map(|r| format!(" ({r})"))
        .unwrap_or_default();
    let refusal = match (state, act) {
        (ContractState::Retired, _) => Some(format!(
            "{function}: contract '{name}' is retired{why}, and retiring is final; deploy the contract under a new name instead"
        )),
        (ContractState::Frozen, Act::Freeze) => Some(format!(
            "{function}: contract '{name}' is already frozen{why}; unfreeze it (UnfreezeContract) or retire it (RetireContract)"
        )),
        (ContractState::Active, Act::Unfreeze) => Some(format!(
            "{function}: contract '{name}' is not frozen (it is active); only a frozen contract can be unfrozen"
        )),
        _ => None,
    };
    if let Some(message) = refusal {
        return Err(LifecycleError::Refused(message));
    }
    Ok(ContractStatus {
        state: act.target() as i32,
        reason: reason.to_owned(),
        name: name.to_owned(),
    })
}

/// Which act turns the committed status `old` of `name` into the written status `new`, or why
/// none does: how the validator checks a governance transaction without running it.
pub fn act_between(old: Option<&ContractStatus>, new: &ContractStatus, name: &str) -> Result<Act> {
    if new.name != name {
        return Err(LifecycleError::Refused(format!(
            "the status written under '{name}' names contract '{}'",
            new.name
        )));
    }
    let act = match ContractState::try_from(new.state) {
        Ok(ContractState::Frozen) => Act::Freeze,
        Ok(ContractState::Active) => Act::Unfreeze,
        Ok(ContractState::Retired) => Act::Retire,
        Err(_) => {
            return Err(LifecycleError::Refused(format!(
                "the status written for '{name}' has the unknown state {}",
                new.state
            )))
        }
    };
    apply(old, act, name, &new.reason)?;
    Ok(act)
}

/// The endorser's refusal of a proposal to `name` whose committed status is `status`, written
/// in block `since_block`; `None` when the contract serves transactions.
pub fn refusal(name: &str, status: Option<&ContractStatus>, since_block: u64) -> Option<String> {
    let status = status?;
    let reason = if status.reason.is_empty() {
        "no reason given".to_owned()
    } else {
        status.reason.clone()
    };
    match state_of(status) {
        ContractState::Active => None,
        ContractState::Frozen => Some(format!(
            "contract {name} is frozen since block {since_block}: {reason}; an admin can unfreeze it with `cambium contract unfreeze {name}`"
        )),
        ContractState::Retired => Some(format!(
            "contract {name} is retired since block {since_block}: {reason}; retiring is final, so use another contract"
        )),
    }
}

/// Refuses approving or committing a new definition of `name` when it is retired.
pub fn refuse_if_retired(state: &mut dyn StateGet, name: &str, function: &str) -> Result<()> {
    let status = stored_status(state, name)?;
    if state_of_opt(status.as_ref()) == ContractState::Retired {
        return Err(LifecycleError::Refused(format!(
            "{function}: contract '{name}' is retired, and retiring is final: no new definition may be approved or committed under its name; deploy it under a new name"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(state: ContractState) -> ContractStatus {
        ContractStatus {
            state: state as i32,
            reason: "incident 7".into(),
            name: "kv".into(),
        }
    }

    #[test]
    fn acts_follow_the_state_machine() {
        let frozen = apply(None, Act::Freeze, "kv", "incident 7").unwrap();
        assert_eq!(frozen, status(ContractState::Frozen));
        let err = apply(Some(&frozen), Act::Freeze, "kv", "x").unwrap_err();
        assert!(
            err.to_string().contains("already frozen (incident 7)"),
            "{err}"
        );
        let err = apply(None, Act::Unfreeze, "kv", "").unwrap_err();
        assert!(err.to_string().contains("not frozen"), "{err}");
        let active = apply(Some(&frozen), Act::Unfreeze, "kv", "fixed").unwrap();
        assert_eq!(state_of(&active), ContractState::Active);
        let err = apply(Some(&active), Act::Unfreeze, "kv", "").unwrap_err();
        assert!(err.to_string().contains("not frozen"), "{err}");
        for from in [None, Some(&frozen), Some(&active)] {
            let retired = apply(from, Act::Retire, "kv", "gone").unwrap();
            assert_eq!(state_of(&retired), ContractState::Retired);
            for act in [Act::Freeze, Act::Unfreeze, Act::Retire] {
                let err = apply(Some(&retired), act, "kv", "").unwrap_err();
                assert!(err.to_string().contains("retiring is final"), "{err}");
            }
        }
    }

    #[test]
    fn the_validator_recognises_each_act_and_nothing_else() {
        let frozen = status(ContractState::Frozen);
        assert_eq!(act_between(None, &frozen, "kv").unwrap(), Act::Freeze);
        let active = status(ContractState::Active);
        assert_eq!(
            act_between(Some(&frozen), &active, "kv").unwrap(),
            Act::Unfreeze
        );
        assert!(act_between(None, &active, "kv").is_err());
        let retired = status(ContractState::Retired);
        assert_eq!(
            act_between(Some(&frozen), &retired, "kv").unwrap(),
            Act::Retire
        );
        assert!(act_between(Some(&retired), &active, "kv").is_err());
        assert!(act_between(None, &frozen, "other").is_err());
        let unknown = ContractStatus {
            state: 9,
            ..frozen.clone()
        };
        assert!(act_between(None, &unknown, "kv").is_err());
    }

    #[test]
    fn refusals_name_the_block_the_reason_and_the_way_out() {
        assert_eq!(refusal("kv", None, 3), None);
        assert_eq!(refusal("kv", Some(&status(ContractState::Active)), 3), None);
        assert_eq!(
            refusal("kv", Some(&status(ContractState::Frozen)), 3).unwrap(),
            "contract kv is frozen since block 3: incident 7; an admin can unfreeze it with `cambium contract unfreeze kv`"
        );
        assert!(refusal("kv", Some(&status(ContractState::Retired)), 3)
            .unwrap()
            .contains("retired since block 3"));
    }

    #[test]
    fn keys_and_encoding_keep_their_layout() {
        assert_eq!(status_key("kv"), "cambium/status/kv");
        assert_eq!(status_name("cambium/status/kv"), Some("kv"));
        assert_eq!(status_name("cambium/status/"), None);
        assert_eq!(status_name("cambium/rollout/kv"), None);
        // state (1) = 1, reason (2) = "r", name (3) = "kv".
        let bytes = ContractStatus {
            state: ContractState::Frozen as i32,
            reason: "r".into(),
            name: "kv".into(),
        }
        .encode_to_vec();
        assert_eq!(bytes, vec![0x08, 1, 0x12, 1, b'r', 0x1a, 2, b'k', b'v']);
        let args = ContractStateArgs {
            name: "kv".into(),
            reason: "r".into(),
        }
        .encode_to_vec();
        assert_eq!(args, vec![0x0a, 2, b'k', b'v', 0x12, 1, b'r']);
    }
}
