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
use crate::state::{Simulation, StateGet};

/// Prefix of the keys holding each contract's previous definition.
pub const PREVIOUS_PREFIX: &str = "cambium/previous/";

/// The channel config value (in the `Application` group) that sets the upgrade grace window.
pub const GRACE_BLOCKS_KEY: &str = "CambiumUpgradeGraceBlocks";

/// The grace window, in blocks, when the channel config does not set one.
pub const DEFAULT_GRACE_BLOCKS: u64 = 5;

/// The [`GRACE_BLOCKS_KEY`] value: how many blocks after a definition's commit block still
/// accept transactions endorsed under the previous version.
#[derive(Clone, Copy, PartialEq, Eq, ::prost::Message)]
pub struct UpgradeGraceBlocks {
    /// The window in blocks (0: only the current version is accepted after a commit).
    #[prost(uint64, tag = "1")]
    pub blocks: u64,
}

impl UpgradeGraceBlocks {
    /// The grace window set by the config value bytes `value`, or the default without one.
    pub fn from_config_value(value: Option<&[u8]>) -> Result<u64> {
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
    /// The previous definition's version within the grace window: judged under the previous
    /// definition.
    Previous,
    /// Not acceptable in this block (`CHAINCODE_VERSION_CONFLICT`); the reason says why and
    /// what to do.
    Rejected(String),
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
}

/// Judges a transaction of `name` endorsed with `endorsed` in block `block`, with a grace
/// window of `grace` blocks; see the module docs.
pub fn judge_version(
    name: &str,
    window: &VersionWindow,
    endorsed: &str,
    block: u64,
    grace: u64,
) -> VersionVerdict {
    if endorsed == window.current_version {
        return VersionVerdict::Current;
    }
    let last_grace_block = window.committed_block.saturating_add(grace);
    match &window.previous_version {
        Some(previous) if previous == endorsed && block <= last_grace_block => {
            VersionVerdict::Previous
        }
        Some(previous) if previous == endorsed => VersionVerdict::Rejected(format!(
            "the transaction was endorsed with version '{endorsed}' of '{name}', but version '{}' took effect after block {} and the grace window for '{endorsed}' ({grace} blocks) ended with block {last_grace_block}; endorse the transaction again",
            window.current_version, window.committed_block
        )),
        _ => VersionVerdict::Rejected(format!(
            "the transaction was endorsed with version '{endorsed}' of '{name}', which is neither the committed version '{}' nor the one it replaced; endorse the transaction again",
            window.current_version
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
        }
    }

    #[test]
    fn previous_version_is_accepted_for_the_grace_window() {
        let w = window();
        assert_eq!(
            judge_version("kv", &w, "2.0", 11, 5),
            VersionVerdict::Current
        );
        assert_eq!(
            judge_version("kv", &w, "1.0", 11, 5),
            VersionVerdict::Previous
        );
        assert_eq!(
            judge_version("kv", &w, "1.0", 15, 5),
            VersionVerdict::Previous
        );
        let VersionVerdict::Rejected(why) = judge_version("kv", &w, "1.0", 16, 5) else {
            panic!("block 16 is past the window");
        };
        assert!(why.contains("ended with block 15"), "{why}");
        assert!(matches!(
            judge_version("kv", &w, "1.0", 11, 0),
            VersionVerdict::Rejected(_)
        ));
        assert!(matches!(
            judge_version("kv", &w, "0.9", 11, 5),
            VersionVerdict::Rejected(_)
        ));
    }

    #[test]
    fn grace_setting_defaults_and_decodes() {
        assert_eq!(
            UpgradeGraceBlocks::from_config_value(None).unwrap(),
            DEFAULT_GRACE_BLOCKS
        );
        let bytes = UpgradeGraceBlocks { blocks: 2 }.encode_to_vec();
        assert_eq!(
            UpgradeGraceBlocks::from_config_value(Some(&bytes)).unwrap(),
            2
        );
        assert!(UpgradeGraceBlocks::from_config_value(Some(b"\xff")).is_err());
    }
}
