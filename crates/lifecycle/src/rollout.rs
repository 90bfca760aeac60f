//! Canary rollouts: the plan that splits a contract's traffic between its current (new)
//! definition and the one it replaced, and the deterministic assignment of each transaction.
//!
//! **Status:** this module is the data model and the routing rule only. The `_lifecycle`
//! functions that set and step a plan, the endorser's routing and the validator's check are
//! not wired to it yet.
//!
//! # Assignment ([`RolloutPlan::assign`])
//!
//! 1. An aborted plan sends everything to the previous version; a completed (promoted) one
//!    everything to the new version.
//! 2. A transaction whose creator matches a selector (its MSP ID in `orgs`, the hex SHA-256
//!    of its serialized identity in `clients`, or one of its OUs in `ous`) gets the new
//!    version.
//! 3. Otherwise the first 8 bytes of SHA-256(tx ID), big-endian, modulo 100, below
//!    `weight_percent` gets the new version, anything else the previous one. The tx ID is
//!    itself a hash of the nonce and creator, so the split is uniform, and every peer, the
//!    gateway and the validator compute the same answer.
//!
//! A paused plan routes exactly like an active one; pausing only stops the weight from being
//! advanced until it is resumed.
//!
//! # Encoding
//!
//! A plan is stored as the protobuf message below (field numbers are stable):
//!
//! ```text
//! message RolloutPlan {
//!   uint32 weight_percent = 1;   // 0..=100
//!   repeated string orgs = 2;    // MSP IDs
//!   repeated string clients = 3; // hex SHA-256 of SerializedIdentity bytes
//!   repeated string ous = 4;     // organisational units
//!   RolloutState state = 5;      // ACTIVE = 0, PAUSED = 1, COMPLETE = 2, ABORTED = 3
//! }
//! ```

use sha2::{Digest, Sha256};

use crate::error::{LifecycleError, Result};

/// Where a rollout stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, ::prost::Enumeration)]
#[repr(i32)]
pub enum RolloutState {
    /// Routing by selectors and weight; the weight may be advanced.
    Active = 0,
    /// Routing as when active; the weight is frozen.
    Paused = 1,
    /// Promoted: every transaction gets the new version.
    Complete = 2,
    /// Every transaction gets the previous version.
    Aborted = 3,
}

/// A rollout plan; see the module docs for the encoding and the assignment rule.
#[derive(Clone, PartialEq, Eq, ::prost::Message)]
pub struct RolloutPlan {
    /// Share of the transactions not matched by a selector that get the new version, 0–100.
    #[prost(uint32, tag = "1")]
    pub weight_percent: u32,
    /// MSP IDs whose clients get the new version.
    #[prost(string, repeated, tag = "2")]
    pub orgs: Vec<String>,
    /// Client identities (hex SHA-256 of their `SerializedIdentity` bytes) that get the new
    /// version.
    #[prost(string, repeated, tag = "3")]
    pub clients: Vec<String>,
    /// Organisational units whose members get the new version.
    #[prost(string, repeated, tag = "4")]
    pub ous: Vec<String>,
    /// Where the rollout stands.
    #[prost(enumeration = "RolloutState", tag = "5")]
    pub state: i32,
}

/// Which version a rollout assigns a transaction to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The current (new) definition.
    New,
    /// The definition it replaced.
    Previous,
}

/// Who created a transaction, as far as selectors look.
#[derive(Clone, Copy, Debug)]
pub struct Creator<'a> {
    /// The creator's MSP ID.
    pub msp_id: &'a str,
    /// The creator's `SerializedIdentity` bytes.
    pub identity: &'a [u8],
    /// The OUs of the creator's certificate.
    pub ous: &'a [String],
}

/// The hex SHA-256 of a serialized identity: how `clients` selectors name a client.
pub fn client_selector(identity: &[u8]) -> String {
    Sha256::digest(identity)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The bucket, 0–99, of a transaction ID.
pub fn bucket(tx_id: &str) -> u32 {
    let digest = Sha256::digest(tx_id.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % 100) as u32
}

impl RolloutPlan {
    /// Checks a plan: weight within 0–100 and selectors naming channel orgs (`channel_orgs`).
    pub fn check(&self, channel_orgs: &[String]) -> Result<()> {
        if self.weight_percent > 100 {
            return Err(LifecycleError::BadArguments(format!(
                "a canary weight of {}% is outside 0-100%; give a percentage between 0 and 100",
                self.weight_percent
            )));
        }
        if let Some(unknown) = self.orgs.iter().find(|o| !channel_orgs.contains(o)) {
            return Err(LifecycleError::BadArguments(format!(
                "the rollout selector names org '{unknown}', which is not an application org of this channel (orgs: {}); select one of those",
                channel_orgs.join(", ")
            )));
        }
        if RolloutState::try_from(self.state).is_err() {
            return Err(LifecycleError::BadArguments(format!(
                "rollout state {} is not one of ACTIVE (0), PAUSED (1), COMPLETE (2), ABORTED (3)",
                self.state
            )));
        }
        Ok(())
    }

    /// The version this plan assigns the transaction `tx_id` by `creator` to.
    pub fn assign(&self, tx_id: &str, creator: &Creator<'_>) -> Route {
        match RolloutState::try_from(self.state) {
            Ok(RolloutState::Aborted) => return Route::Previous,
            Ok(RolloutState::Complete) => return Route::New,
            _ => {}
        }
        let selected = self.orgs.iter().any(|o| o == creator.msp_id)
            || (!self.clients.is_empty()
                && self.clients.contains(&client_selector(creator.identity)))
            || creator.ous.iter().any(|ou| self.ous.contains(ou));
        if selected || bucket(tx_id) < self.weight_percent {
            Route::New
        } else {
            Route::Previous
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cambium_wire::Message;

    fn creator<'a>(msp_id: &'a str, identity: &'a [u8], ous: &'a [String]) -> Creator<'a> {
        Creator {
            msp_id,
            identity,
            ous,
        }
    }

    #[test]
    fn weight_routing_is_deterministic_and_proportional() {
        let plan = RolloutPlan {
            weight_percent: 10,
            ..Default::default()
        };
        let c = creator("Org1MSP", b"id", &[]);
        let ids: Vec<String> = (0..2000).map(|i| format!("{i:064x}")).collect();
        let first: Vec<Route> = ids.iter().map(|id| plan.assign(id, &c)).collect();
        let again: Vec<Route> = ids.iter().map(|id| plan.assign(id, &c)).collect();
        assert_eq!(first, again);
        let new = first.iter().filter(|r| **r == Route::New).count();
        assert!((140..=260).contains(&new), "{new} of 2000 at 10%");
        for id in &ids {
            assert_eq!(plan.assign(id, &c) == Route::New, bucket(id) < 10);
        }
        let none = RolloutPlan::default();
        assert!(ids.iter().all(|id| none.assign(id, &c) == Route::Previous));
        let all = RolloutPlan {
            weight_percent: 100,
            ..Default::default()
        };
        assert!(ids.iter().all(|id| all.assign(id, &c) == Route::New));
    }

    #[test]
    fn selectors_promote_and_abort() {
        let ous = vec!["department1".to_owned()];
        let plan = RolloutPlan {
            orgs: vec!["Org2MSP".into()],
            clients: vec![client_selector(b"alice")],
            ous: vec!["department1".into()],
            ..Default::default()
        };
        let tx = "00";
        assert_eq!(plan.assign(tx, &creator("Org2MSP", b"x", &[])), Route::New);
        assert_eq!(
            plan.assign(tx, &creator("Org1MSP", b"x", &[])),
            Route::Previous
        );
        assert_eq!(
            plan.assign(tx, &creator("Org1MSP", b"alice", &[])),
            Route::New
        );
        assert_eq!(plan.assign(tx, &creator("Org1MSP", b"x", &ous)), Route::New);
        let promoted = RolloutPlan {
            state: RolloutState::Complete as i32,
            ..plan.clone()
        };
        assert_eq!(
            promoted.assign(tx, &creator("Org1MSP", b"x", &[])),
            Route::New
        );
        let aborted = RolloutPlan {
            state: RolloutState::Aborted as i32,
            ..plan.clone()
        };
        assert_eq!(
            aborted.assign(tx, &creator("Org2MSP", b"x", &[])),
            Route::Previous
        );
        let paused = RolloutPlan {
            state: RolloutState::Paused as i32,
            ..plan.clone()
        };
        assert_eq!(
            paused.assign(tx, &creator("Org2MSP", b"x", &[])),
            Route::New
        );
        assert_eq!(
            RolloutPlan::decode(plan.encode_to_vec().as_slice()).unwrap(),
            plan
        );
    }

    #[test]
    fn bad_plans_are_refused() {
        let orgs = vec!["Org1MSP".to_owned(), "Org2MSP".to_owned()];
        let over = RolloutPlan {
            weight_percent: 101,
            ..Default::default()
        };
        assert!(over
            .check(&orgs)
            .unwrap_err()
            .to_string()
            .contains("outside 0-100%"));
        let unknown = RolloutPlan {
            orgs: vec!["Org9MSP".into()],
            ..Default::default()
        };
        assert!(unknown
            .check(&orgs)
            .unwrap_err()
            .to_string()
            .contains("'Org9MSP'"));
        let state = RolloutPlan {
            state: 7,
            ..Default::default()
        };
        assert!(state.check(&orgs).is_err());
        RolloutPlan {
            weight_percent: 100,
            orgs: vec!["Org1MSP".into()],
            ..Default::default()
        }
        .check(&orgs)
        .unwrap();
    }
}
