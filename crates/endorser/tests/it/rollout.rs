//! Canary rollouts end to end: definitions carrying a rollout plan, the `_lifecycle` rollout
//! steps under their policies, each org's endorser routing proposals to the version the plan
//! assigns, and the validator (with `LifecyclePolicies`) checking that version, on both peers.

use cambium_endorser::ProposalResponse;
use cambium_ledger::{SnapshotSource, StateReader};
use cambium_lifecycle::{
    assign, Creator, RolloutPlan, RolloutState, RolloutStatus, RolloutStepArgs, Route,
};
use cambium_msp::SigningIdentity;
use cambium_primitives::TxValidationCode as Code;
use cambium_wire::tx::{
    endorsement_message, parse_proposal_response_payload, parse_signed_proposal,
};
use cambium_wire::{encode_serialized_identity, peer, Message};

use crate::lifecycle::{code_under, config_with_grace, package, signed_proposal, Def, Network};
use crate::support::{net, CHANNEL};

/// A network with `kv` committed at sequence 1 (version 1.0, package `kv_1`) and sequence 2
/// (version 2.0, package `kv_2`, carrying `plan`), both packages installed on both peers.
struct Canary {
    network: Network,
    v1: String,
    v2: String,
}

/// Installs `label` (the kv module) on both peers; returns its package ID.
pub(crate) fn install_both(network: &Network, label: &str) -> String {
    install_wasm(network, &net().kv_wasm, label)
}

/// Installs `wasm` as package `label` on both peers; returns its package ID.
pub(crate) fn install_wasm(network: &Network, wasm: &[u8], label: &str) -> String {
    let pkg = package(wasm, label);
    let id = network.install(0, &pkg);
    assert_eq!(network.install(1, &pkg), id);
    id
}

/// Both orgs approve `def` with `package`, and both peers endorse its commit.
pub(crate) fn define(network: &Network, def: &Def, package: &str) {
    network.approve(0, def, Some(package));
    network.approve(1, def, Some(package));
    assert_eq!(network.commit(&[0, 1], def), Code::Valid);
}

impl Canary {
    fn new(plan: RolloutPlan) -> Canary {
        let network = Network::new();
        let v1 = install_both(&network, "kv_1");
        let v2 = install_both(&network, "kv_2");
        define(&network, &Def::new("kv", 1, "1.0"), &v1);
        define(&network, &Def::new("kv", 2, "2.0").with_rollout(plan), &v2);
        Canary { network, v1, v2 }
    }

    /// A proposal of `args` to kv by org `org`'s client, endorsed by both peers: the
    /// transaction envelope, its ID and the version both endorsers ran.
    fn endorse(&self, org: usize, args: &[&str]) -> (Vec<u8>, String, String) {
        let client = self.network.client(org);
        let proposal = signed_proposal(
            client,
            CHANNEL,
            "kv",
            args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            false,
        );
        let responses: Vec<ProposalResponse> =
            (0..2).map(|o| self.network.send(o, &proposal)).collect();
        let versions: Vec<String> = responses.iter().map(version_of).collect();
        assert_eq!(versions[0], versions[1], "both peers route alike");
        let tx_id = parse_signed_proposal(&proposal)
            .expect("proposal parses")
            .channel_header
            .tx_id;
        let envelope = Network::envelope(client, &proposal, &responses);
        (envelope, tx_id, versions[0].clone())
    }

    /// A rollout step `function` by `signer`, sent to the peers `orgs`: the responses and, if
    /// every peer endorsed, the transaction.
    fn step(
        &self,
        signer: &SigningIdentity,
        orgs: &[usize],
        function: &str,
        weight_percent: u32,
    ) -> (Vec<ProposalResponse>, Option<Vec<u8>>) {
        let args = RolloutStepArgs {
            name: "kv".into(),
            weight_percent,
        };
        let (proposal, responses) =
            self.network
                .lifecycle(orgs, signer, function, args.encode_to_vec());
        let tx = responses
            .iter()
            .all(|r| r.response.status == 200)
            .then(|| Network::envelope(signer, &proposal, &responses));
        (responses, tx)
    }

    /// A step endorsed by both peers and committed; returns its code.
    fn commit_step(&self, signer: &SigningIdentity, function: &str, weight: u32) -> Code {
        let (responses, tx) = self.step(signer, &[0, 1], function, weight);
        let tx =
            tx.unwrap_or_else(|| panic!("{function} refused: {}", responses[0].response.message));
        let status = RolloutStatus::decode(responses[0].response.payload.as_slice()).unwrap();
        assert_eq!(status.name, "kv");
        self.network.submit(vec![tx])[0]
    }

    /// A step that every peer refuses; returns the message.
    fn refused_step(&self, signer: &SigningIdentity, function: &str, weight: u32) -> String {
        let (responses, tx) = self.step(signer, &[0, 1], function, weight);
        assert!(tx.is_none(), "{function} was endorsed");
        for r in &responses {
            assert_eq!(r.response.status, 500);
            assert!(r.endorsement.is_none());
        }
        responses[0].response.message.clone()
    }

    fn status(&self) -> RolloutStatus {
        query_rollout(&self.network)
    }

    fn admin(&self, org: usize) -> &'static SigningIdentity {
        self.network.admin(org)
    }
}

fn query_rollout(network: &Network) -> RolloutStatus {
    network.query(
        0,
        "QueryRollout",
        RolloutStepArgs {
            name: "kv".into(),
            weight_percent: 0,
        }
        .encode_to_vec(),
    )
}

/// The contract version an endorser put in the response's `ChaincodeAction`.
fn version_of(response: &ProposalResponse) -> String {
    assert_eq!(
        response.response.status, 200,
        "{}",
        response.response.message
    );
    parse_proposal_response_payload(&response.payload)
        .expect("payload parses")
        .action
        .chaincode_id
        .expect("chaincode id")
        .version
}

fn creator_of(identity: &SigningIdentity) -> (String, Vec<u8>, Vec<String>) {
    (
        identity.msp_id().to_owned(),
        encode_serialized_identity(&identity.serialized()),
        identity.certificate().organizational_units().to_vec(),
    )
}

/// The digest of Org1's peer's whole state.
fn digest(network: &Network) -> [u8; 32] {
    network.orgs[0]
        .ledger
        .snapshot()
        .expect("snapshot")
        .state_digest()
        .expect("digest")
}

#[test]
fn an_org_selector_sends_org1_clients_to_v2_while_org2_clients_stay_on_v1() {
    let canary = Canary::new(RolloutPlan {
        orgs: vec!["Org1MSP".into()],
        ..Default::default()
    });
    let status = canary.status();
    assert_eq!(
        (
            status.sequence,
            status.version.as_str(),
            status.previous_sequence,
            status.previous_version.as_str()
        ),
        (2, "2.0", 1, "1.0")
    );
    let plan = status.plan.expect("a plan");
    assert_eq!(
        (plan.state, plan.orgs.as_slice()),
        (RolloutState::Active as i32, &["Org1MSP".to_owned()][..])
    );

    let mut txs = Vec::new();
    for i in 0..4 {
        let key = format!("k{i}");
        let (tx, _, version) = canary.endorse(0, &["put", &key, "org1"]);
        assert_eq!(version, "2.0");
        txs.push(tx);
        let key = format!("j{i}");
        let (tx, _, version) = canary.endorse(1, &["put", &key, "org2"]);
        assert_eq!(version, "1.0");
        txs.push(tx);
    }
    // Both peers accept every one of them, long after the commit's grace window too.
    for _ in 0..6 {
        assert_eq!(
            canary
                .network
                .invoke("kv", &["put", "filler", "x"], false)
                .0,
            Code::Valid
        );
    }
    assert!(canary.network.submit(txs).iter().all(|c| *c == Code::Valid));
    // Definitions and approvals name the packages each version runs.
    let approved: cambium_wire::lifecycle::QueryApprovedChaincodeDefinitionResult =
        canary.network.query_admin(
            0,
            "QueryApprovedChaincodeDefinition",
            cambium_wire::lifecycle::QueryApprovedChaincodeDefinitionArgs {
                name: "kv".into(),
                sequence: 2,
            }
            .encode_to_vec(),
        );
    let source = cambium_lifecycle::PackageSource::from_wire(approved.source.as_ref());
    assert_eq!(source.package_id(), Some(canary.v2.as_str()));
    assert_ne!(canary.v1, canary.v2);
}

#[test]
fn a_30_percent_split_routes_each_transaction_as_assign_does() {
    let plan = RolloutPlan {
        weight_percent: 30,
        ..Default::default()
    };
    let canary = Canary::new(plan.clone());
    let (msp_id, identity, ous) = creator_of(canary.network.client(1));
    let creator = Creator {
        msp_id: &msp_id,
        identity: &identity,
        ous: &ous,
    };
    let mut txs = Vec::new();
    let mut new = 0;
    for i in 0..60 {
        let key = format!("k{i}");
        let (tx, tx_id, version) = canary.endorse(1, &["put", &key, "v"]);
        let expected = match assign(&plan, &tx_id, &creator) {
            Route::New => "2.0",
            Route::Previous => "1.0",
        };
        assert_eq!(version, expected, "transaction {tx_id}");
        new += usize::from(version == "2.0");
        txs.push(tx);
    }
    assert!((5..=35).contains(&new), "{new} of 60 on the canary at 30%");
    // With no grace window at all, the validator agrees with every routing decision.
    let strict = config_with_grace(0);
    for _ in 0..2 {
        assert_eq!(
            canary
                .network
                .invoke("kv", &["put", "filler", "x"], false)
                .0,
            Code::Valid
        );
    }
    for tx in &txs[..10] {
        assert_eq!(
            code_under(&canary.network, &strict, tx.clone()),
            Code::Valid
        );
    }
    assert!(canary.network.submit(txs).iter().all(|c| *c == Code::Valid));
}

#[test]
fn advance_pause_resume_then_promote() {
    let canary = Canary::new(RolloutPlan {
        weight_percent: 10,
        ..Default::default()
    });
    assert_eq!(
        canary.commit_step(canary.admin(0), "AdvanceRollout", 50),
        Code::Valid
    );
    let plan = canary.status().plan.unwrap();
    assert_eq!(
        (plan.weight_percent, plan.state),
        (50, RolloutState::Active as i32)
    );
    assert_eq!(
        canary.commit_step(canary.admin(1), "PauseRollout", 0),
        Code::Valid
    );
    assert_eq!(
        canary.status().plan.unwrap().state,
        RolloutState::Paused as i32
    );
    assert_eq!(
        canary.commit_step(canary.admin(0), "ResumeRollout", 0),
        Code::Valid
    );
    assert_eq!(
        canary.commit_step(canary.admin(0), "AdvanceRollout", 80),
        Code::Valid
    );

    // Promote needs RolloutPromote (MAJORITY Endorsement): one org's peer is not enough.
    let (_, tx) = canary.step(canary.admin(0), &[0], "PromoteRollout", 0);
    let (code, reason) = canary.network.reason(tx.expect("endorsed"));
    assert_eq!(code, Code::EndorsementPolicyFailure);
    assert!(
        reason.contains("/Channel/Application/RolloutPromote"),
        "{reason}"
    );

    assert_eq!(
        canary.commit_step(canary.admin(0), "PromoteRollout", 0),
        Code::Valid
    );
    let plan = canary.status().plan.unwrap();
    assert_eq!(
        (plan.weight_percent, plan.state),
        (100, RolloutState::Complete as i32)
    );
    // Every client now runs 2.0, from the next block on.
    for org in 0..2 {
        for _ in 0..3 {
            let (tx, _, version) = canary.endorse(org, &["put", "after", "promote"]);
            assert_eq!(version, "2.0");
            assert_eq!(canary.network.submit(vec![tx]), [Code::Valid]);
        }
    }
    // The rollout is over: a new sequence may be committed.
    define(&canary.network, &Def::new("kv", 3, "3.0"), &canary.v2);
}

#[test]
fn abort_sends_everyone_back_to_v1_from_the_next_block_and_v2_stays_valid_for_the_grace_window() {
    let canary = Canary::new(RolloutPlan {
        orgs: vec!["Org1MSP".into()],
        ..Default::default()
    });
    // Endorsed on 2.0 before the abort, committed after it.
    let (within, _, version) = canary.endorse(0, &["put", "within", "v2"]);
    assert_eq!(version, "2.0");
    let (after, _, _) = canary.endorse(0, &["put", "after", "v2"]);

    // Any one org admin may abort (RolloutAbort = ANY Admins): Org2's admin, endorsed by
    // Org2's peer alone.
    let (responses, tx) = canary.step(canary.admin(1), &[1], "AbortRollout", 0);
    let aborted = RolloutStatus::decode(responses[0].response.payload.as_slice()).unwrap();
    assert_eq!(aborted.plan.unwrap().state, RolloutState::Aborted as i32);
    assert_eq!(
        canary.network.submit(vec![tx.expect("endorsed")]),
        [Code::Valid]
    );

    // From the next block, Org1's clients run 1.0 again.
    let (v1, _, version) = canary.endorse(0, &["put", "back", "v1"]);
    assert_eq!(version, "1.0");
    assert_eq!(
        canary.network.submit(vec![v1, within]),
        [Code::Valid, Code::Valid]
    );
    let (_, payload) = canary.network.invoke("kv", &["get", "within"], false);
    assert_eq!(payload, b"v2");

    // Past the window (5 blocks after the abort's block), 2.0 is refused with the reason.
    for _ in 0..4 {
        assert_eq!(
            canary
                .network
                .invoke("kv", &["put", "filler", "x"], false)
                .0,
            Code::Valid
        );
    }
    let (code, reason) = canary.network.reason(after.clone());
    assert_eq!(code, Code::ChaincodeVersionConflict);
    assert!(
        reason.contains("ABORTED") && reason.contains("assigns it to version '1.0'"),
        "{reason}"
    );
    assert_eq!(
        canary.network.submit(vec![after]),
        [Code::ChaincodeVersionConflict]
    );

    // The aborted rollout is over; the next sequence replaces 1.0, the version that serves.
    let before = query_rollout(&canary.network);
    let err = canary.refused_step(canary.admin(0), "PromoteRollout", 0);
    assert!(err.contains("already ABORTED"), "{err}");
    assert_eq!(query_rollout(&canary.network), before);
    define(
        &canary.network,
        &Def::new("kv", 3, "3.0").with_rollout(RolloutPlan {
            weight_percent: 50,
            ..Default::default()
        }),
        &canary.v2,
    );
    let status = canary.status();
    assert_eq!(
        (status.previous_sequence, status.previous_version.as_str()),
        (1, "1.0")
    );
}

#[test]
fn rolling_back_to_an_old_package_is_a_new_sequence_ready_at_commit() {
    let network = Network::new();
    let v1 = install_both(&network, "kv_1");
    let v2 = install_both(&network, "kv_2");
    define(&network, &Def::new("kv", 1, "1.0"), &v1);
    define(&network, &Def::new("kv", 2, "2.0"), &v2);
    assert_eq!(
        network.invoke("kv", &["put", "a", "2"], false).0,
        Code::Valid
    );

    // Sequence 3 points back at the 1.0 package, still installed: every org is ready.
    let rollback = Def::new("kv", 3, "1.0");
    network.approve(0, &rollback, Some(&v1));
    network.approve(1, &rollback, Some(&v1));
    let (_, responses) = network.lifecycle(
        &[0],
        network.client(0),
        "CheckCommitReadiness",
        rollback.readiness(),
    );
    let report = cambium_lifecycle::report_from_result(&responses[0].response.payload)
        .unwrap()
        .expect("report");
    assert!(
        report.orgs.values().all(|o| o.ready && o.package_id == v1),
        "{report:?}"
    );
    assert_eq!(network.commit(&[0, 1], &rollback), Code::Valid);

    // The very next block runs the old package, and the state written under 2.0 is there.
    let client = network.client(1);
    let proposal = signed_proposal(
        client,
        CHANNEL,
        "kv",
        vec![b"get".to_vec(), b"a".to_vec()],
        false,
    );
    let responses: Vec<ProposalResponse> = (0..2).map(|o| network.send(o, &proposal)).collect();
    assert_eq!(version_of(&responses[0]), "1.0");
    assert_eq!(responses[0].response.payload, b"2");
    assert_eq!(
        network.submit(vec![Network::envelope(client, &proposal, &responses)]),
        [Code::Valid]
    );
}

/// Re-signs `responses` (by Org1's and Org2's peers, in that order) after `edit` changed
/// their chaincode action: what endorsers that break the rules would produce.
pub(crate) fn resign(
    responses: &mut [ProposalResponse],
    edit: impl Fn(&mut peer::ChaincodeAction),
) {
    for (o, r) in responses.iter_mut().enumerate() {
        let mut prp = peer::ProposalResponsePayload::decode(r.payload.as_slice()).unwrap();
        let mut action = peer::ChaincodeAction::decode(prp.extension.as_slice()).unwrap();
        edit(&mut action);
        prp.extension = action.encode_to_vec();
        r.payload = prp.encode_to_vec();
        let signer = if o == 0 {
            &net().org1_peer
        } else {
            &net().org2_peer
        };
        let endorser = encode_serialized_identity(&signer.serialized());
        r.endorsement = Some(cambium_primitives::Endorsement {
            signature: signer
                .sign(&endorsement_message(&r.payload, &endorser))
                .expect("sign"),
            endorser,
        });
    }
}

/// [`resign`] with the chaincode version set to `version`.
fn with_version(responses: &mut [ProposalResponse], version: &str) {
    resign(responses, |action| {
        action.chaincode_id.as_mut().unwrap().version = version.into();
    });
}

#[test]
fn the_validator_refuses_a_version_the_plan_does_not_assign() {
    let canary = Canary::new(RolloutPlan {
        orgs: vec!["Org1MSP".into()],
        ..Default::default()
    });
    let strict = config_with_grace(0);
    // Org2's client is assigned 1.0; endorsers claiming 2.0 for it are refused.
    let client = canary.network.client(1);
    let proposal = signed_proposal(
        client,
        CHANNEL,
        "kv",
        vec![b"put".to_vec(), b"x".to_vec(), b"y".to_vec()],
        false,
    );
    let mut responses: Vec<ProposalResponse> =
        (0..2).map(|o| canary.network.send(o, &proposal)).collect();
    assert_eq!(version_of(&responses[0]), "1.0");
    let honest = Network::envelope(client, &proposal, &responses);
    with_version(&mut responses, "2.0");
    let forged = Network::envelope(client, &proposal, &responses);
    assert_eq!(code_under(&canary.network, &strict, honest), Code::Valid);
    assert_eq!(
        code_under(&canary.network, &strict, forged.clone()),
        Code::ChaincodeVersionConflict
    );
    // Within the default window after the commit the other version is still accepted.
    assert_eq!(
        code_under(&canary.network, net().config.as_ref(), forged),
        Code::Valid
    );
    // And Org1's client is assigned 2.0; 1.0 is refused for it.
    let (tx, _, version) = canary.endorse(0, &["put", "z", "1"]);
    assert_eq!(version, "2.0");
    assert_eq!(code_under(&canary.network, &strict, tx), Code::Valid);
}

#[test]
fn bad_rollout_input_is_refused_with_what_to_do_and_changes_nothing() {
    let canary = Canary::new(RolloutPlan {
        weight_percent: 20,
        ..Default::default()
    });
    let before = (canary.status(), digest(&canary.network));
    let unchanged = || {
        assert_eq!((canary.status(), digest(&canary.network)), before);
    };

    let err = canary.refused_step(canary.admin(0), "AdvanceRollout", 101);
    assert!(
        err.contains("outside 0-100%") && err.contains("at most 100"),
        "{err}"
    );
    unchanged();
    let err = canary.refused_step(canary.admin(0), "AdvanceRollout", 20);
    assert!(err.contains("not above the current 20%"), "{err}");
    unchanged();
    // A client is no admin: every step is refused, abort included.
    for function in [
        "AdvanceRollout",
        "PauseRollout",
        "PromoteRollout",
        "AbortRollout",
    ] {
        let err = canary.refused_step(canary.network.client(0), function, 50);
        assert!(
            err.contains(&format!(
                "_lifecycle/{function} requires an admin of a channel org"
            )),
            "{err}"
        );
    }
    unchanged();
    let err = canary.refused_step(canary.admin(0), "ResumeRollout", 0);
    assert!(err.contains("not paused"), "{err}");
    unchanged();

    // Paused: advancing is refused until resumed.
    assert_eq!(
        canary.commit_step(canary.admin(0), "PauseRollout", 0),
        Code::Valid
    );
    let paused = canary.status();
    let err = canary.refused_step(canary.admin(1), "AdvanceRollout", 40);
    assert!(
        err.contains("paused") && err.contains("ResumeRollout"),
        "{err}"
    );
    assert_eq!(canary.status(), paused);

    // A committed sequence without a plan: no rollout in progress.
    let network = Network::new();
    let v1 = install_both(&network, "kv_1");
    define(&network, &Def::new("kv", 1, "1.0"), &v1);
    let state = digest(&network);
    for function in ["AdvanceRollout", "AbortRollout"] {
        let (_, responses) = network.lifecycle(
            &[0],
            network.admin(0),
            function,
            RolloutStepArgs {
                name: "kv".into(),
                weight_percent: 50,
            }
            .encode_to_vec(),
        );
        let err = &responses[0].response.message;
        assert!(
            err.contains("no rollout of 'kv' is in progress")
                && err.contains("rollout plan to start one"),
            "{err}"
        );
    }
    let status = query_rollout(&network);
    assert_eq!((status.sequence, status.plan), (1, None));
    // A plan on the first definition has nothing to roll from.
    let first = Def::new("other", 1, "1.0").with_rollout(RolloutPlan::default());
    let (_, responses) = network.lifecycle(
        &[0],
        network.admin(0),
        "ApproveChaincodeDefinitionForMyOrg",
        first.approve(Some(&v1)),
    );
    let err = &responses[0].response.message;
    assert!(
        err.contains("no committed definition to roll from"),
        "{err}"
    );
    // A weight outside 0-100 and a selector naming an unknown org are refused at approve.
    let over = Def::new("kv", 2, "2.0").with_rollout(RolloutPlan {
        weight_percent: 150,
        ..Default::default()
    });
    let (_, responses) = network.lifecycle(
        &[0],
        network.admin(0),
        "ApproveChaincodeDefinitionForMyOrg",
        over.approve(Some(&v1)),
    );
    assert!(
        responses[0]
            .response
            .message
            .contains("a canary weight of 150% is outside 0-100%"),
        "{}",
        responses[0].response.message
    );
    let unknown = Def::new("kv", 2, "2.0").with_rollout(RolloutPlan {
        orgs: vec!["Org9MSP".into()],
        ..Default::default()
    });
    let (_, responses) = network.lifecycle(
        &[0],
        network.admin(0),
        "ApproveChaincodeDefinitionForMyOrg",
        unknown.approve(Some(&v1)),
    );
    let err = &responses[0].response.message;
    assert!(
        err.contains("'Org9MSP'") && err.contains("Org1MSP, Org2MSP"),
        "{err}"
    );
    assert_eq!(digest(&network), state);

    // The plan is approved like any other field: a different plan is a mismatch.
    let mut ten = Def::new("kv", 2, "2.0").with_rollout(RolloutPlan {
        weight_percent: 10,
        ..Default::default()
    });
    network.approve(0, &ten, Some(&v1));
    let twenty = ten.clone().with_rollout(RolloutPlan {
        weight_percent: 20,
        ..Default::default()
    });
    network.approve(1, &twenty, Some(&v1));
    let ready: cambium_wire::lifecycle::CheckCommitReadinessResult =
        network.query(0, "CheckCommitReadiness", ten.readiness());
    assert_eq!(ready.approvals.get("Org2MSP"), Some(&false));
    assert_eq!(ready.mismatches["Org2MSP"].items, ["Rollout"]);
    ten = ten.with_rollout(RolloutPlan {
        weight_percent: 10,
        ..Default::default()
    });
    let (_, responses) = network.lifecycle(
        &[0, 1],
        network.admin(0),
        "CommitChaincodeDefinition",
        ten.commit(),
    );
    assert!(
        responses[1]
            .response
            .message
            .contains("not agreed to by this org (Org2MSP)"),
        "{}",
        responses[1].response.message
    );
}

/// The test channel's config with `RolloutAbort` set to the signature policy `dsl`.
fn config_with_rollout_abort(dsl: &str) -> cambium_channel::ChannelConfig {
    let default = net().config.as_ref();
    let mut root = default.channel_group().clone();
    let app = root
        .groups
        .get_mut("Application")
        .expect("application group");
    let abort = app
        .policies
        .get_mut(cambium_channel::spec::ROLLOUT_ABORT)
        .expect("the sample channel defines RolloutAbort");
    abort.policy = cambium_primitives::Policy::Signature(
        cambium_msp::policy::parse(dsl).expect("policy parses"),
    );
    cambium_channel::ChannelConfig::new(CHANNEL, default.sequence(), root).expect("config builds")
}

#[test]
fn an_abort_by_an_admin_outside_rollout_abort_fails_validation() {
    let canary = Canary::new(RolloutPlan {
        orgs: vec!["Org1MSP".into()],
        ..Default::default()
    });
    // Org2's admin, endorsed by Org2's peer alone: ANY Admins (the default) is met by the
    // creator's own signature.
    let (_, tx) = canary.step(canary.admin(1), &[1], "AbortRollout", 0);
    let tx = tx.expect("endorsed");
    assert_eq!(
        code_under(&canary.network, net().config.as_ref(), tx.clone()),
        Code::Valid
    );
    // A channel whose RolloutAbort names only Org1's admins refuses the same transaction.
    let org1_only = config_with_rollout_abort("OR('Org1MSP.admin')");
    assert_eq!(
        code_under(&canary.network, &org1_only, tx),
        Code::EndorsementPolicyFailure
    );
    // An Org1 admin's abort satisfies it.
    let (_, tx) = canary.step(canary.admin(0), &[0], "AbortRollout", 0);
    assert_eq!(
        code_under(&canary.network, &org1_only, tx.expect("endorsed")),
        Code::Valid
    );
}

#[test]
fn a_step_must_read_the_rollout_it_writes_and_write_a_legal_step() {
    let canary = Canary::new(RolloutPlan {
        weight_percent: 10,
        ..Default::default()
    });
    let admin = canary.admin(0);
    let args = RolloutStepArgs {
        name: "kv".into(),
        weight_percent: 0,
    };
    let (proposal, responses) =
        canary
            .network
            .lifecycle(&[0, 1], admin, "PauseRollout", args.encode_to_vec());
    // Endorsers that leave out the read of the rollout key.
    let mut blind = responses.clone();
    resign(&mut blind, |action| {
        let mut rwset = cambium_wire::decode_tx_rwset(&action.results).unwrap();
        for ns in &mut rwset.ns {
            ns.reads.retain(|r| r.key != "cambium/rollout/kv");
        }
        action.results = cambium_wire::encode_tx_rwset(&rwset);
    });
    let (code, reason) = canary
        .network
        .reason(Network::envelope(admin, &proposal, &blind));
    assert_eq!(code, Code::EndorsementPolicyFailure);
    assert!(reason.contains("does not read the rollout"), "{reason}");
    // Endorsers that write a promote to 100 % but call it a pause.
    let mut forged = responses.clone();
    resign(&mut forged, |action| {
        let mut rwset = cambium_wire::decode_tx_rwset(&action.results).unwrap();
        for ns in &mut rwset.ns {
            for w in &mut ns.writes {
                let mut status = RolloutStatus::decode(w.value.as_slice()).unwrap();
                status.plan.as_mut().unwrap().weight_percent = 100;
                w.value = status.encode_to_vec();
            }
        }
        action.results = cambium_wire::encode_tx_rwset(&rwset);
    });
    let (code, reason) = canary
        .network
        .reason(Network::envelope(admin, &proposal, &forged));
    assert_eq!(code, Code::EndorsementPolicyFailure);
    assert!(reason.contains("is not a legal step"), "{reason}");
    // The honest one is valid.
    assert_eq!(
        canary
            .network
            .submit(vec![Network::envelope(admin, &proposal, &responses)]),
        [Code::Valid]
    );
}
