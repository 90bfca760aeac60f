//! Canary rollouts: the plan that splits a contract's traffic between its current (new)
//! definition and the one it replaced, the deterministic assignment of each transaction, and
//! the steps that move a rollout along.
//!
//! The messages are Cambium's `cambium.lifecycle` protobufs in `cambium-wire`
//! ([`RolloutPlan`], [`RolloutState`], [`RolloutStatus`], [`RolloutStepArgs`]); this module holds
//! the rules over them.
//!
//! # Assignment ([`assign`])
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
//! # Lifecycle of a rollout
//!
//! A definition may carry a plan (Cambium extension field 1001 of Fabric's approve, readiness
//! and commit arguments; orgs approve it like any other field). Committing such a definition
//! starts the rollout: the new sequence is current, the replaced definition is kept under
//! `cambium/previous/<name>` ([`crate::upgrade`]) and the [`RolloutStatus`] is stored under
//! [`rollout_key`] (`cambium/rollout/<name>`). The steps ([`Step`]) rewrite that key:
//!
//! | step | from | to |
//! |---|---|---|
//! | `AdvanceRollout` (weight) | ACTIVE, weight above the current one and at most 100 | ACTIVE |
//! | `PauseRollout` | ACTIVE | PAUSED |
//! | `ResumeRollout` | PAUSED | ACTIVE |
//! | `PromoteRollout` | ACTIVE or PAUSED | COMPLETE, weight 100 |
//! | `AbortRollout` | ACTIVE or PAUSED | ABORTED |
//!
//! COMPLETE and ABORTED are final for that sequence. A stored status whose sequence is not the
//! committed one belongs to an earlier definition and routes nothing.

use sha2::{Digest, Sha256};

pub use cambium_wire::cambium_lifecycle::{
    RolloutExtension, RolloutPlan, RolloutState, RolloutStatus, RolloutStepArgs,
};
use cambium_wire::Message;

use crate::error::{LifecycleError, Result};
use crate::state::{Simulation, StateGet};

/// The protobuf field number at which a [`RolloutPlan`] rides along Fabric's lifecycle
/// messages (see [`plan_from_message`] and [`append_plan`]).
pub const ROLLOUT_FIELD: u32 = 1001;

/// Prefix of the keys holding each contract's rollout status.
pub const ROLLOUT_PREFIX: &str = "cambium/rollout/";

/// `cambium/rollout/<name>`: where the [`RolloutStatus`] of `name` is stored.
pub fn rollout_key(name: &str) -> String {
    format!("{ROLLOUT_PREFIX}{name}")
}

/// The contract whose rollout `key` holds, if `key` is a rollout key.
pub fn rollout_name(key: &str) -> Option<&str> {
    key.strip_prefix(ROLLOUT_PREFIX).filter(|n| !n.is_empty())
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

/// The plan's state; an unknown number reads as ACTIVE (plans are checked on the way in,
/// so stored ones never have one).
pub fn state_of(plan: &RolloutPlan) -> RolloutState {
    RolloutState::try_from(plan.state).unwrap_or(RolloutState::Active)
}

/// Checks a plan offered in a definition: weight within 0–100, selectors naming channel orgs
/// (`channel_orgs`), and the state left at ACTIVE (a plan starts active).
pub fn check_plan(plan: &RolloutPlan, channel_orgs: &[String]) -> Result<()> {
    if plan.weight_percent > 100 {
        return Err(LifecycleError::BadArguments(format!(
            "a canary weight of {}% is outside 0-100%; give a percentage between 0 and 100",
            plan.weight_percent
        )));
    }
    if let Some(unknown) = plan.orgs.iter().find(|o| !channel_orgs.contains(o)) {
        return Err(LifecycleError::BadArguments(format!(
            "the rollout selector names org '{unknown}', which is not an application org of this channel (orgs: {}); select one of those",
            channel_orgs.join(", ")
        )));
    }
    if plan.state != RolloutState::Active as i32 {
        return Err(LifecycleError::BadArguments(format!(
            "a rollout plan in a definition must start ACTIVE, not state {}; leave the state unset and use the rollout steps to change it",
            plan.state
        )));
    }
    Ok(())
}

/// The version `plan` assigns the transaction `tx_id` by `creator` to.
pub fn assign(plan: &RolloutPlan, tx_id: &str, creator: &Creator<'_>) -> Route {
    match RolloutState::try_from(plan.state) {
        Ok(RolloutState::Aborted) => return Route::Previous,
        Ok(RolloutState::Complete) => return Route::New,
        _ => {}
    }
    let selected = plan.orgs.iter().any(|o| o == creator.msp_id)
        || (!plan.clients.is_empty() && plan.clients.contains(&client_selector(creator.identity)))
        || creator.ous.iter().any(|ou| plan.ous.contains(ou));
    if selected || bucket(tx_id) < plan.weight_percent {
        Route::New
    } else {
        Route::Previous
    }
}

/// The plan carried at field [`ROLLOUT_FIELD`] of an encoded Fabric lifecycle message (approve,
/// readiness or commit arguments, or an approval), if any.
pub fn plan_from_message(bytes: &[u8]) -> Result<Option<RolloutPlan>> {
    RolloutExtension::decode(bytes)
        .map(|e| e.rollout)
        .map_err(|e| {
            LifecycleError::BadArguments(format!(
                "the rollout plan (field {ROLLOUT_FIELD}) cannot be decoded: {e}; send a cambium.lifecycle.RolloutPlan"
            ))
        })
}

/// Appends `plan` as field [`ROLLOUT_FIELD`] to the encoded message `bytes`.
pub fn append_plan(plan: &RolloutPlan, bytes: &mut Vec<u8>) {
    RolloutExtension {
        rollout: Some(plan.clone()),
    }
    .encode(bytes)
    .unwrap_or_else(|_| unreachable!("a Vec grows as needed"));
}

/// The rollout status stored for `name`, if any (it may belong to an earlier sequence).
pub fn stored_status(state: &mut dyn StateGet, name: &str) -> Result<Option<RolloutStatus>> {
    state
        .get(&rollout_key(name))?
        .map(|bytes| decode_status(&bytes))
        .transpose()
}

/// Decodes a stored [`RolloutStatus`].
pub fn decode_status(bytes: &[u8]) -> Result<RolloutStatus> {
    RolloutStatus::decode(bytes).map_err(|e| {
        LifecycleError::Storage(format!(
            "a stored rollout status cannot be decoded: {e}; the peer's ledger may be damaged"
        ))
    })
}

/// Stores `status` under its contract's rollout key.
pub fn write_status(sim: &mut dyn Simulation, status: &RolloutStatus) {
    sim.put(&rollout_key(&status.name), status.encode_to_vec());
}

/// The plan routing `name`'s traffic now: the stored plan if it belongs to the committed
/// sequence `sequence`.
pub fn plan_in_force(status: Option<&RolloutStatus>, sequence: i64) -> Option<&RolloutPlan> {
    status
        .filter(|s| s.sequence == sequence)
        .and_then(|s| s.plan.as_ref())
}

/// Whether `status` describes a rollout still in progress (ACTIVE or PAUSED) at `sequence`.
pub fn in_progress(status: &RolloutStatus, sequence: i64) -> bool {
    status.sequence == sequence
        && status
            .plan
            .as_ref()
            .is_some_and(|p| matches!(state_of(p), RolloutState::Active | RolloutState::Paused))
}

/// How a plan reads in messages: `ACTIVE at 30% (orgs: Org1MSP)`.
pub fn describe(plan: &RolloutPlan) -> String {
    let mut out = format!(
        "{} at {}%",
        state_of(plan).as_str_name(),
        plan.weight_percent
    );
    for (what, list) in [
        ("orgs", &plan.orgs),
        ("clients", &plan.clients),
        ("OUs", &plan.ous),
    ] {
        if !list.is_empty() {
            out.push_str(&format!(" ({what}: {})", list.join(", ")));
        }
    }
    out
}

/// `AdvanceRollout`.
pub const ADVANCE: &str = "AdvanceRollout";
/// `PauseRollout`.
pub const PAUSE: &str = "PauseRollout";
/// `ResumeRollout`.
pub const RESUME: &str = "ResumeRollout";
/// `PromoteRollout`.
pub const PROMOTE: &str = "PromoteRollout";
/// `AbortRollout`.
pub const ABORT: &str = "AbortRollout";
/// `QueryRollout`.
pub const QUERY: &str = "QueryRollout";

/// One rollout step; see the module docs for the transitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Raise the weight to this percentage.
    Advance(u32),
    /// Freeze the weight.
    Pause,
    /// Unfreeze the weight.
    Resume,
    /// Send everything to the new version, for good.
    Promote,
    /// Send everything back to the previous version, for good.
    Abort,
}

impl Step {
    /// The step a `_lifecycle` function names, with its arguments; `None` if `function` is not
    /// a step.
    pub fn from_function(function: &str, args: &RolloutStepArgs) -> Option<Step> {
        Some(match function {
            ADVANCE => Step::Advance(args.weight_percent),
            PAUSE => Step::Pause,
            RESUME => Step::Resume,
            PROMOTE => Step::Promote,
            ABORT => Step::Abort,
            _ => return None,
        })
    }

    /// The `_lifecycle` function of this step.
    pub fn function(&self) -> &'static str {
        match self {
            Step::Advance(_) => ADVANCE,
            Step::Pause => PAUSE,
            Step::Resume => RESUME,
            Step::Promote => PROMOTE,
            Step::Abort => ABORT,
        }
    }

    /// Whether this step is an abort (governed by the channel's `RolloutAbort` policy; every
    /// other step by `RolloutPromote`).
    pub fn is_abort(&self) -> bool {
        matches!(self, Step::Abort)
    }
}

/// Whether `function` is one of the rollout steps (not the query).
pub fn is_step(function: &str) -> bool {
    matches!(function, ADVANCE | PAUSE | RESUME | PROMOTE | ABORT)
}

/// Applies `step` to `status`, the stored rollout of the contract committed at `sequence`;
/// refuses a step that the rollout's state does not allow, saying what to do instead.
pub fn apply_step(
    status: Option<&RolloutStatus>,
    sequence: i64,
    step: Step,
    name: &str,
) -> Result<RolloutStatus> {
    let refuse = |why: String| Err(LifecycleError::Refused(why));
    let function = step.function();
    let Some(status) = status.filter(|s| s.sequence == sequence && s.plan.is_some()) else {
        return refuse(format!(
            "{function}: no rollout of '{name}' is in progress (sequence {sequence} was committed without a rollout plan); commit a new sequence whose definition carries a rollout plan to start one"
        ));
    };
    let plan = status
        .plan
        .as_ref()
        .unwrap_or_else(|| unreachable!("filtered above"));
    let state = state_of(plan);
    if matches!(state, RolloutState::Complete | RolloutState::Aborted) {
        return refuse(format!(
            "{function}: no rollout of '{name}' is in progress: the rollout of sequence {sequence} (version '{}') is already {}; commit a new sequence with a rollout plan to start another",
            status.version,
            state.as_str_name()
        ));
    }
    let mut next = plan.clone();
    match step {
        Step::Advance(weight) => {
            if state == RolloutState::Paused {
                return refuse(format!(
                    "{function}: the rollout of '{name}' is paused at {}%; resume it (ResumeRollout) before advancing",
                    plan.weight_percent
                ));
            }
            if weight > 100 {
                return Err(LifecycleError::BadArguments(format!(
                    "{function}: a canary weight of {weight}% is outside 0-100%; give a percentage above the current {}% and at most 100",
                    plan.weight_percent
                )));
            }
            if weight <= plan.weight_percent {
                return Err(LifecycleError::BadArguments(format!(
                    "{function}: the new weight {weight}% is not above the current {}% of '{name}'; give a larger percentage (at most 100), or abort the rollout to go back",
                    plan.weight_percent
                )));
            }
            next.weight_percent = weight;
        }
        Step::Pause => {
            if state == RolloutState::Paused {
                return refuse(format!(
                    "{function}: the rollout of '{name}' is already paused; resume it (ResumeRollout), promote or abort it"
                ));
            }
            next.state = RolloutState::Paused as i32;
        }
        Step::Resume => {
            if state == RolloutState::Active {
                return refuse(format!(
                    "{function}: the rollout of '{name}' is not paused (it is ACTIVE at {}%); only a paused rollout can be resumed",
                    plan.weight_percent
                ));
            }
            next.state = RolloutState::Active as i32;
        }
        Step::Promote => {
            next.state = RolloutState::Complete as i32;
            next.weight_percent = 100;
        }
        Step::Abort => next.state = RolloutState::Aborted as i32,
    }
    Ok(RolloutStatus {
        plan: Some(next),
        ..status.clone()
    })
}

/// Which step turns the stored status `old` into the written status `new` of the contract
/// committed at `sequence`, or why none does: how the validator checks a step transaction
/// without running it.
pub fn step_between(
    old: Option<&RolloutStatus>,
    new: &RolloutStatus,
    sequence: i64,
) -> Result<Step> {
    let Some(new_plan) = new.plan.as_ref() else {
        return Err(LifecycleError::Refused(format!(
            "the written rollout of '{}' has no plan",
            new.name
        )));
    };
    let step = match state_of(new_plan) {
        RolloutState::Aborted => Step::Abort,
        RolloutState::Complete => Step::Promote,
        RolloutState::Paused => Step::Pause,
        RolloutState::Active => match old.and_then(|o| o.plan.as_ref()).map(state_of) {
            Some(RolloutState::Paused) => Step::Resume,
            _ => Step::Advance(new_plan.weight_percent),
        },
    };
    let expected = apply_step(old, sequence, step, &new.name)?;
    if &expected != new {
        return Err(LifecycleError::Refused(format!(
            "the written rollout of '{}' is not what {} gives from the committed one",
            new.name,
            step.function()
        )));
    }
    Ok(step)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creator<'a>(msp_id: &'a str, identity: &'a [u8], ous: &'a [String]) -> Creator<'a> {
        Creator {
            msp_id,
            identity,
            ous,
        }
    }

    fn status(plan: RolloutPlan) -> RolloutStatus {
        RolloutStatus {
            name: "kv".into(),
            sequence: 2,
            version: "2.0".into(),
            previous_sequence: 1,
            previous_version: "1.0".into(),
            plan: Some(plan),
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
        let first: Vec<Route> = ids.iter().map(|id| assign(&plan, id, &c)).collect();
        let again: Vec<Route> = ids.iter().map(|id| assign(&plan, id, &c)).collect();
        assert_eq!(first, again);
        let new = first.iter().filter(|r| **r == Route::New).count();
        assert!((140..=260).contains(&new), "{new} of 2000 at 10%");
        for id in &ids {
            assert_eq!(assign(&plan, id, &c) == Route::New, bucket(id) < 10);
        }
        let none = RolloutPlan::default();
        assert!(ids
            .iter()
            .all(|id| assign(&none, id, &c) == Route::Previous));
        let all = RolloutPlan {
            weight_percent: 100,
            ..Default::default()
        };
        assert!(ids.iter().all(|id| assign(&all, id, &c) == Route::New));
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
        assert_eq!(
            assign(&plan, tx, &creator("Org2MSP", b"x", &[])),
            Route::New
        );
        assert_eq!(
            assign(&plan, tx, &creator("Org1MSP", b"x", &[])),
            Route::Previous
        );
        assert_eq!(
            assign(&plan, tx, &creator("Org1MSP", b"alice", &[])),
            Route::New
        );
        assert_eq!(
            assign(&plan, tx, &creator("Org1MSP", b"x", &ous)),
            Route::New
        );
        let promoted = RolloutPlan {
            state: RolloutState::Complete as i32,
            ..plan.clone()
        };
        assert_eq!(
            assign(&promoted, tx, &creator("Org1MSP", b"x", &[])),
            Route::New
        );
        let aborted = RolloutPlan {
            state: RolloutState::Aborted as i32,
            ..plan.clone()
        };
        assert_eq!(
            assign(&aborted, tx, &creator("Org2MSP", b"x", &[])),
            Route::Previous
        );
        let paused = RolloutPlan {
            state: RolloutState::Paused as i32,
            ..plan.clone()
        };
        assert_eq!(
            assign(&paused, tx, &creator("Org2MSP", b"x", &[])),
            Route::New
        );
    }

    #[test]
    fn the_encoding_keeps_its_field_numbers() {
        let plan = RolloutPlan {
            weight_percent: 30,
            orgs: vec!["Org1MSP".into()],
            clients: vec![],
            ous: vec!["client".into()],
            state: RolloutState::Paused as i32,
        };
        // weight (1) = 30, orgs (2) = "Org1MSP", ous (4) = "client", state (5) = 1.
        let mut expected = vec![0x08, 30, 0x12, 7];
        expected.extend_from_slice(b"Org1MSP");
        expected.extend_from_slice(&[0x22, 6]);
        expected.extend_from_slice(b"client");
        expected.extend_from_slice(&[0x28, 1]);
        assert_eq!(plan.encode_to_vec(), expected);
        assert_eq!(RolloutPlan::decode(expected.as_slice()).unwrap(), plan);
        // Carried at field 1001 after a Fabric message's own fields.
        let mut args = cambium_wire::lifecycle::CommitChaincodeDefinitionArgs {
            name: "kv".into(),
            sequence: 2,
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(plan_from_message(&args).unwrap(), None);
        append_plan(&plan, &mut args);
        let fabric =
            cambium_wire::lifecycle::CommitChaincodeDefinitionArgs::decode(args.as_slice())
                .unwrap();
        assert_eq!(fabric.name, "kv");
        assert_eq!(plan_from_message(&args).unwrap(), Some(plan));
    }

    #[test]
    fn bad_plans_are_refused() {
        let orgs = vec!["Org1MSP".to_owned(), "Org2MSP".to_owned()];
        let over = RolloutPlan {
            weight_percent: 101,
            ..Default::default()
        };
        assert!(check_plan(&over, &orgs)
            .unwrap_err()
            .to_string()
            .contains("outside 0-100%"));
        let unknown = RolloutPlan {
            orgs: vec!["Org9MSP".into()],
            ..Default::default()
        };
        let err = check_plan(&unknown, &orgs).unwrap_err().to_string();
        assert!(
            err.contains("'Org9MSP'") && err.contains("Org1MSP, Org2MSP"),
            "{err}"
        );
        let state = RolloutPlan {
            state: RolloutState::Complete as i32,
            ..Default::default()
        };
        assert!(check_plan(&state, &orgs).is_err());
        check_plan(
            &RolloutPlan {
                weight_percent: 100,
                orgs: vec!["Org1MSP".into()],
                ..Default::default()
            },
            &orgs,
        )
        .unwrap();
    }

    #[test]
    fn steps_follow_the_state_machine() {
        let start = status(RolloutPlan {
            weight_percent: 10,
            ..Default::default()
        });
        let advanced = apply_step(Some(&start), 2, Step::Advance(30), "kv").unwrap();
        assert_eq!(advanced.plan.as_ref().unwrap().weight_percent, 30);
        let err = apply_step(Some(&advanced), 2, Step::Advance(30), "kv").unwrap_err();
        assert!(
            err.to_string().contains("not above the current 30%"),
            "{err}"
        );
        let err = apply_step(Some(&advanced), 2, Step::Advance(101), "kv").unwrap_err();
        assert!(err.to_string().contains("outside 0-100%"), "{err}");
        let paused = apply_step(Some(&advanced), 2, Step::Pause, "kv").unwrap();
        let err = apply_step(Some(&paused), 2, Step::Advance(50), "kv").unwrap_err();
        assert!(err.to_string().contains("paused"), "{err}");
        assert!(apply_step(Some(&advanced), 2, Step::Resume, "kv").is_err());
        let resumed = apply_step(Some(&paused), 2, Step::Resume, "kv").unwrap();
        assert_eq!(resumed, advanced);
        let promoted = apply_step(Some(&paused), 2, Step::Promote, "kv").unwrap();
        assert_eq!(
            promoted
                .plan
                .as_ref()
                .map(|p| (state_of(p), p.weight_percent)),
            Some((RolloutState::Complete, 100))
        );
        let err = apply_step(Some(&promoted), 2, Step::Abort, "kv").unwrap_err();
        assert!(err.to_string().contains("already COMPLETE"), "{err}");
        let aborted = apply_step(Some(&advanced), 2, Step::Abort, "kv").unwrap();
        assert_eq!(
            state_of(aborted.plan.as_ref().unwrap()),
            RolloutState::Aborted
        );
        // A status of an earlier sequence, or none, is no rollout in progress.
        let err = apply_step(Some(&start), 3, Step::Abort, "kv").unwrap_err();
        assert!(
            err.to_string()
                .contains("no rollout of 'kv' is in progress"),
            "{err}"
        );
        assert!(apply_step(None, 2, Step::Promote, "kv").is_err());
    }

    #[test]
    fn the_validator_recognises_each_step_and_nothing_else() {
        let start = status(RolloutPlan {
            weight_percent: 10,
            ..Default::default()
        });
        for step in [Step::Advance(40), Step::Pause, Step::Promote, Step::Abort] {
            let next = apply_step(Some(&start), 2, step, "kv").unwrap();
            assert_eq!(step_between(Some(&start), &next, 2).unwrap(), step);
        }
        let paused = apply_step(Some(&start), 2, Step::Pause, "kv").unwrap();
        assert_eq!(
            step_between(Some(&paused), &start, 2).unwrap(),
            Step::Resume
        );
        // An abort that also changes the selectors is not an abort.
        let mut forged = apply_step(Some(&start), 2, Step::Abort, "kv").unwrap();
        forged.plan.as_mut().unwrap().orgs.push("Org1MSP".into());
        assert!(step_between(Some(&start), &forged, 2).is_err());
        // Lowering the weight is no step.
        let mut lower = start.clone();
        lower.plan.as_mut().unwrap().weight_percent = 5;
        assert!(step_between(Some(&start), &lower, 2).is_err());
        assert!(step_between(None, &start, 2).is_err());
    }
}
