//! Zero failed transactions across an upgrade: which contract versions a block accepts.
//!
//! A transaction records the contract version it was endorsed with
//! (`ChaincodeAction.chaincode_id.version`). The validator judges it against the definitions
//! committed before its block ([`judge_version`]):
//!
//! - the **current** definition's version: valid under the current endorsement policy;
//! - the **previous** definition's version, while the block is within the upgrade grace
//!   window: valid under the *previous* definition's endorsement policy (the one it was
//!   endorsed under). The window covers the `grace` blocks after the block that committed the
//!   current definition: a definition committed in block `C` governs blocks from `C + 1`,
//!   and transactions endorsed under the previous version stay acceptable up to block
//!   `C + grace`;
//! - anything else: `CHAINCODE_VERSION_CONFLICT` (18), with a message saying which versions
//!   the block accepts and to endorse the transaction again.
//!
//! With a canary rollout in force ([`crate::rollout`]), the version the plan assigns a
//! transaction is accepted at any block, and the other one within the grace window after the
//! last switch (the commit, or the rollout's last step, promote or abort), see
//! [`judge_version`].
//!
//! # State
//!
//! - The block that committed the current definition is the block number of the version of
//!   its `namespaces/fields/<name>/Sequence` key, which the commit transaction writes: every
//!   peer derives it from state, deterministically, without the endorser knowing the block.
//! - The previous definition is written by the commit under the Cambium key
//!   [`previous_key`] (`cambium/previous/<name>`), encoded like an approval (a
//!   `QueryApprovedChaincodeDefinitionResult` without a package source).
//!
//! # Channel setting
//!
//! The window's length is the channel config value [`GRACE_BLOCKS_KEY`]
//! (`CambiumUpgradeGraceBlocks`) in the `Application` group, holding an [`UpgradeGraceBlocks`]
//! protobuf (`uint64 blocks = 1`); without it the window is [`DEFAULT_GRACE_BLOCKS`].
//! Fabric tools carry the unknown value through config updates unchanged.

use cambium_wire::Message;

use crate::definition::{Approval, Definition, PackageSource};
use crate::error::{LifecycleError, Result};
use crate::rollout::{assign, Creator, RolloutPlan, Route};
use crate::state::{Simulation, StateGet};

/// Prefix of the keys holding each contract's previous definition.
pub const PREVIOUS_PREFIX: &str = "cambium/previous/";

/// The channel config value (in the `Application` group) that sets the upgrade grace window.
pub const GRACE_BLOCKS_KEY: &str = "CambiumUpgradeGraceBlocks";

/// The grace window, in blocks, when the channel config does not set one.
pub const DEFAULT_GRACE_BLOCKS: u64 = 5;

pub use cambium_wire::cambium_lifecycle::UpgradeGraceBlocks;

/// The `Application` group config value (under [`GRACE_BLOCKS_KEY`]) that sets the grace
/// window to `blocks`, modified under the group's `Admins` policy.
pub fn grace_blocks_config_value(blocks: u64) -> cambium_wire::config::ConfigValue {
    cambium_wire::config::ConfigValue {
        version: 0,
        value: cambium_wire::config::Value::Raw(UpgradeGraceBlocks { blocks }.encode_to_vec()),
        mod_policy: "Admins".to_owned(),
    }
}

/// The grace window set by the [`GRACE_BLOCKS_KEY`] config value bytes `value` (an
/// [`UpgradeGraceBlocks`] protobuf), or [`DEFAULT_GRACE_BLOCKS`] without one.
pub fn grace_blocks_from_config(value: Option<&[u8]>) -> Result<u64> {
    match value {
        None => Ok(DEFAULT_GRACE_BLOCKS),
        Some(bytes) => UpgradeGraceBlocks::decode(bytes)
            .map(|v| v.blocks)
            .map_err(|e| {
                LifecycleError::BadArguments(format!(
                    "the channel config value {GRACE_BLOCKS_KEY} is not an UpgradeGraceBlocks protobuf ({e}); set it to {{blocks: N}}"
                ))
            }),
    }
}

/// `cambium/previous/<name>`: where the definition that preceded `name`'s current one is kept.
pub fn previous_key(name: &str) -> String {
    format!("{PREVIOUS_PREFIX}{name}")
}

/// The definition that preceded `name`'s current one, if the current one replaced another.
pub fn previous_definition(state: &mut dyn StateGet, name: &str) -> Result<Option<Definition>> {
    state
        .get(&previous_key(name))?
        .map(|bytes| Approval::decode(&bytes).map(|a| a.definition))
        .transpose()
}

/// Records `previous` as the definition `name`'s new definition replaces.
pub fn write_previous(sim: &mut dyn Simulation, name: &str, previous: &Definition) {
    let value = Approval {
        definition: previous.clone(),
        source: PackageSource::Unavailable,
    }
    .encode();
    sim.put(&previous_key(name), value);
}

/// Which definition a transaction endorsed with a given version is judged under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionVerdict {
    /// The current definition's version: judged under the current definition.
    Current,
    /// The previous definition's version (assigned by the rollout, or within the grace
    /// window): judged under the previous definition.
    Previous,
    /// Not acceptable in this block (`CHAINCODE_VERSION_CONFLICT`); the reason says why and
    /// what to do.
    Rejected(String),
}

/// A rollout plan in force for the current definition, and the block that last changed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RolloutInForce {
    /// The plan, with its state.
    pub plan: RolloutPlan,
    /// The block that wrote the plan's current state (the commit, or the last step).
    pub changed_block: u64,
}

/// The committed definitions of one contract as a block sees them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VersionWindow {
    /// The current definition's version.
    pub current_version: String,
    /// The block that committed the current definition.
    pub committed_block: u64,
    /// The previous definition's version, if the current one replaced another.
    pub previous_version: Option<String>,
    /// The rollout plan of the current definition, if it was committed with one.
    pub rollout: Option<RolloutInForce>,
}

impl VersionWindow {
    /// The version the window's rollout assigns transaction `tx_id` by `creator` to:
    /// [`Route::New`] without a rollout (or without a previous version to route to).
    pub fn route(&self, tx_id: &str, creator: &Creator<'_>) -> Route {
        match (&self.rollout, &self.previous_version) {
            (Some(r), Some(_)) => assign(&r.plan, tx_id, creator),
            _ => Route::New,
        }
    }

    /// The last block that switched traffic: the commit, or the rollout's last step.
    pub fn switched_block(&self) -> u64 {
        self.rollout.as_ref().map_or(self.committed_block, |r| {
            r.changed_block.max(self.committed_block)
        })
    }
}

/// Judges a transaction of `name` endorsed with `endorsed` in block `block`, which the
/// rollout assigns to `assigned` (see [`VersionWindow::route`]), with a grace window of
/// `grace` blocks:
///
/// - the assigned version is accepted (judged under its own definition);
/// - the other of the two versions is accepted while `block` is within `grace` blocks after
///   the last switch ([`VersionWindow::switched_block`]): the commit, a rollout step, a
///   promote or an abort;
/// - anything else is rejected, saying which version the transaction needed.
pub fn judge_version(
    name: &str,
    window: &VersionWindow,
    endorsed: &str,
    assigned: Route,
    block: u64,
    grace: u64,
) -> VersionVerdict {
    let previous = window.previous_version.as_deref();
    let assigned_version = match (assigned, previous) {
        (Route::Previous, Some(p)) => p,
        _ => window.current_version.as_str(),
    };
    let verdict_of = |version: &str| {
        if version == window.current_version {
            VersionVerdict::Current
        } else {
            VersionVerdict::Previous
        }
    };
    if endorsed == assigned_version {
        return verdict_of(endorsed);
    }
    let switched = window.switched_block();
    let last_grace_block = switched.saturating_add(grace);
    let known = endorsed == window.current_version || Some(endorsed) == previous;
    if known && block <= last_grace_block {
        return verdict_of(endorsed);
    }
    if !known {
        return VersionVerdict::Rejected(format!(
            "the transaction was endorsed with version '{endorsed}' of '{name}', which is neither the committed version '{}' nor the one it replaced; endorse the transaction again",
            window.current_version
        ));
    }
    match &window.rollout {
        Some(rollout) => VersionVerdict::Rejected(format!(
            "the transaction was endorsed with version '{endorsed}' of '{name}', but the rollout in force ({}) assigns it to version '{assigned_version}', and the grace window after the last switch in block {switched} ({grace} blocks) ended with block {last_grace_block}; endorse the transaction again",
            crate::rollout::describe(&rollout.plan)
        )),
        None => VersionVerdict::Rejected(format!(
            "the transaction was endorsed with version '{endorsed}' of '{name}', but version '{}' took effect after block {} and the grace window for '{endorsed}' ({grace} blocks) ended with block {last_grace_block}; endorse the transaction again",
            window.current_version, window.committed_block
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> VersionWindow {
        VersionWindow {
            current_version: "2.0".into(),
            committed_block: 10,
            previous_version: Some("1.0".into()),
            rollout: None,
        }
    }

    fn judge(w: &VersionWindow, endorsed: &str, block: u64, grace: u64) -> VersionVerdict {
        judge_version("kv", w, endorsed, Route::New, block, grace)
    }

    #[test]
    fn previous_version_is_accepted_for_the_grace_window() {
        let w = window();
        assert_eq!(judge(&w, "2.0", 11, 5), VersionVerdict::Current);
        assert_eq!(judge(&w, "1.0", 11, 5), VersionVerdict::Previous);
        assert_eq!(judge(&w, "1.0", 15, 5), VersionVerdict::Previous);
        let VersionVerdict::Rejected(why) = judge(&w, "1.0", 16, 5) else {
            panic!("block 16 is past the window");
        };
        assert!(why.contains("ended with block 15"), "{why}");
        assert!(matches!(
            judge(&w, "1.0", 11, 0),
            VersionVerdict::Rejected(_)
        ));
        assert!(matches!(
            judge(&w, "0.9", 11, 5),
            VersionVerdict::Rejected(_)
        ));
    }

    #[test]
    fn a_rollout_accepts_the_assigned_version_and_the_other_one_after_a_switch() {
        let mut w = window();
        w.rollout = Some(RolloutInForce {
            plan: RolloutPlan {
                weight_percent: 30,
                ..Default::default()
            },
            changed_block: 20,
        });
        assert_eq!(w.switched_block(), 20);
        let creator = Creator {
            msp_id: "Org1MSP",
            identity: b"id",
            ous: &[],
        };
        // Assigned to the previous version: accepted long after any switch.
        assert_eq!(
            judge_version("kv", &w, "1.0", Route::Previous, 100, 5),
            VersionVerdict::Previous
        );
        // The other version within the window after the step of block 20, not after.
        assert_eq!(
            judge_version("kv", &w, "2.0", Route::Previous, 25, 5),
            VersionVerdict::Current
        );
        let VersionVerdict::Rejected(why) = judge_version("kv", &w, "2.0", Route::Previous, 26, 5)
        else {
            panic!("past the window");
        };
        assert!(
            why.contains("assigns it to version '1.0'") && why.contains("ACTIVE at 30%"),
            "{why}"
        );
        // The route follows the plan's assignment, the same for everyone.
        let ids: Vec<String> = (0..300).map(|i| format!("{i:064x}")).collect();
        for id in &ids {
            let expected = if crate::rollout::bucket(id) < 30 {
                Route::New
            } else {
                Route::Previous
            };
            assert_eq!(w.route(id, &creator), expected);
        }
        // Without a previous version there is nothing to route to.
        w.previous_version = None;
        assert_eq!(w.route(&ids[0], &creator), Route::New);
    }

    #[test]
    fn grace_setting_defaults_and_decodes() {
        assert_eq!(
            grace_blocks_from_config(None).unwrap(),
            DEFAULT_GRACE_BLOCKS
        );
        let bytes = UpgradeGraceBlocks { blocks: 2 }.encode_to_vec();
        assert_eq!(grace_blocks_from_config(Some(&bytes)).unwrap(), 2);
        assert!(grace_blocks_from_config(Some(b"\xff")).is_err());
    }
}
