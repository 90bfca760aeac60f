//! Contract governance end to end: `FreezeContract`, `UnfreezeContract` and `RetireContract`
//! endorsed by both peers and judged by the validator with `LifecyclePolicies`; endorsers
//! refusing a frozen contract's proposals; transactions endorsed before a freeze; retiring as
//! a final act; and bad input refused with nothing written.

use cambium_endorser::ProposalResponse;
use cambium_lifecycle::{ContractState, ContractStateArgs, ContractStatus};
use cambium_msp::SigningIdentity;
use cambium_primitives::TxValidationCode as Code;
use cambium_wire::lifecycle as lc;
use cambium_wire::Message;

use crate::lifecycle::{deployed_kv, endorse_both, signed_proposal, Def, Network};
use crate::support::CHANNEL;

fn args(name: &str, reason: &str) -> Vec<u8> {
    ContractStateArgs {
        name: name.into(),
        reason: reason.into(),
    }
    .encode_to_vec()
}

/// A governance act by `signer` on `name`, sent to the peers `orgs`.
fn act(
    network: &Network,
    signer: &SigningIdentity,
    orgs: &[usize],
    function: &str,
    name: &str,
    reason: &str,
) -> (Vec<u8>, Vec<ProposalResponse>) {
    network.lifecycle(orgs, signer, function, args(name, reason))
}

/// An act by Org1's admin endorsed by both peers: the transaction (not submitted) and the
/// status the peers answered.
fn act_tx(network: &Network, function: &str, reason: &str) -> (Vec<u8>, ContractStatus) {
    let admin = network.admin(0);
    let (proposal, responses) = act(network, admin, &[0, 1], function, "kv", reason);
    let tx = Network::envelope(admin, &proposal, &responses);
    let status = ContractStatus::decode(responses[0].response.payload.as_slice()).unwrap();
    (tx, status)
}

/// An act that both peers refuse; the message.
fn refused(network: &Network, signer: &SigningIdentity, function: &str, name: &str) -> String {
    let (_, responses) = act(network, signer, &[0, 1], function, name, "why");
    for r in &responses {
        assert_ne!(r.response.status, 200, "{function} was endorsed");
        assert!(r.endorsement.is_none());
    }
    responses[0].response.message.clone()
}

fn status(network: &Network) -> ContractStatus {
    network.query(0, "QueryContractStatus", args("kv", ""))
}

/// A proposal to kv by Org1's client, sent to both peers.
fn propose(network: &Network, call: &[&str]) -> Vec<ProposalResponse> {
    let proposal = signed_proposal(
        network.client(0),
        CHANNEL,
        "kv",
        call.iter().map(|a| a.as_bytes().to_vec()).collect(),
        false,
    );
    (0..2).map(|o| network.send(o, &proposal)).collect()
}

fn height(network: &Network) -> u64 {
    use cambium_ledger::{BlockReader, SnapshotSource};
    network.orgs[0]
        .ledger
        .snapshot()
        .expect("snapshot")
        .height()
        .expect("height")
}

#[test]
fn a_frozen_contract_refuses_proposals_and_later_blocks_until_unfrozen() {
    let (network, _) = deployed_kv();
    assert_eq!(
        status(&network).state,
        ContractState::Active as i32,
        "no status stored reads as active"
    );
    // Endorsed before the freeze: one goes into the freeze's own block, one into the next.
    let same_block = endorse_both(&network, "kv", &["put", "same", "1"]);
    let next_block = endorse_both(&network, "kv", &["put", "next", "1"]);
    let (freeze, answered) = act_tx(&network, "FreezeContract", "incident 7");
    assert_eq!(answered.state, ContractState::Frozen as i32);
    let freeze_block = height(&network);
    // A block is judged against the state before it: the freeze takes effect from the next.
    assert_eq!(
        network.submit(vec![freeze, same_block]),
        [Code::Valid, Code::Valid]
    );
    let (code, reason) = network.reason(next_block.clone());
    assert_eq!(code, Code::EndorsementPolicyFailure);
    assert!(
        reason.contains(&format!("contract kv is frozen since block {freeze_block}")),
        "{reason}"
    );
    assert_eq!(
        network.submit(vec![next_block]),
        [Code::EndorsementPolicyFailure]
    );
    let stored = status(&network);
    assert_eq!(
        (stored.state, stored.reason.as_str()),
        (ContractState::Frozen as i32, "incident 7")
    );
    for r in propose(&network, &["put", "late", "1"]) {
        assert_eq!(r.response.status, 500);
        assert!(r.endorsement.is_none());
        assert_eq!(
            r.response.message,
            format!("contract kv is frozen since block {freeze_block}: incident 7; an admin can unfreeze it with `cambium contract unfreeze kv`")
        );
    }
    // Queries of the definition keep working.
    let definition: lc::QueryChaincodeDefinitionResult = network.query(
        1,
        "QueryChaincodeDefinition",
        lc::QueryChaincodeDefinitionArgs { name: "kv".into() }.encode_to_vec(),
    );
    assert_eq!(definition.sequence, 1);
    // Freezing again is refused; unfreezing serves the contract again.
    let message = refused(&network, network.admin(1), "FreezeContract", "kv");
    assert!(
        message.contains("already frozen (incident 7)") && message.contains("unfreeze it"),
        "{message}"
    );
    let (unfreeze, _) = act_tx(&network, "UnfreezeContract", "fixed");
    assert_eq!(network.submit(vec![unfreeze]), [Code::Valid]);
    assert_eq!(
        network.invoke("kv", &["put", "again", "1"], false).0,
        Code::Valid
    );
    assert_eq!(network.invoke("kv", &["get", "same"], false).1, b"1");
    let message = refused(&network, network.admin(0), "UnfreezeContract", "kv");
    assert!(
        message.contains("is not frozen (it is active)"),
        "{message}"
    );
}

#[test]
fn retiring_is_final_but_queries_still_work() {
    let (network, id) = deployed_kv();
    let (freeze, _) = act_tx(&network, "FreezeContract", "");
    assert_eq!(network.submit(vec![freeze]), [Code::Valid]);
    let (retire, answered) = act_tx(&network, "RetireContract", "replaced by kv2");
    assert_eq!(answered.state, ContractState::Retired as i32);
    let retired_block = height(&network);
    assert_eq!(network.submit(vec![retire]), [Code::Valid]);
    for r in propose(&network, &["get", "a"]) {
        assert_eq!(r.response.status, 500);
        assert!(
            r.response.message.starts_with(&format!(
                "contract kv is retired since block {retired_block}: replaced by kv2"
            )),
            "{}",
            r.response.message
        );
    }
    for function in ["UnfreezeContract", "FreezeContract", "RetireContract"] {
        let message = refused(&network, network.admin(0), function, "kv");
        assert!(
            message.contains("retiring is final"),
            "{function}: {message}"
        );
    }
    // No new definition: approving is refused by the peer.
    let next = Def::new("kv", 2, "2.0");
    let (_, responses) = network.lifecycle(
        &[0],
        network.admin(0),
        "ApproveChaincodeDefinitionForMyOrg",
        next.approve(Some(&id)),
    );
    assert_eq!(responses[0].response.status, 500);
    assert!(
        responses[0].response.message.contains("is retired"),
        "{}",
        responses[0].response.message
    );
    // Queries keep working.
    let definition: lc::QueryChaincodeDefinitionResult = network.query(
        0,
        "QueryChaincodeDefinition",
        lc::QueryChaincodeDefinitionArgs { name: "kv".into() }.encode_to_vec(),
    );
    assert_eq!(
        (definition.sequence, definition.version.as_str()),
        (1, "1.0")
    );
    assert_eq!(status(&network).state, ContractState::Retired as i32);
}

#[test]
fn a_definition_approved_before_retiring_cannot_be_committed() {
    let (network, id) = deployed_kv();
    let next = Def::new("kv", 2, "2.0");
    network.approve(0, &next, Some(&id));
    network.approve(1, &next, Some(&id));
    // The commit is endorsed while the contract is still active, then ordered after the
    // retirement: the validator refuses it.
    let admin = network.admin(0);
    let (proposal, responses) =
        network.lifecycle(&[0, 1], admin, "CommitChaincodeDefinition", next.commit());
    let commit = Network::envelope(admin, &proposal, &responses);
    let (retire, _) = act_tx(&network, "RetireContract", "end of life");
    assert_eq!(network.submit(vec![retire]), [Code::Valid]);
    let (code, reason) = network.reason(commit.clone());
    assert_eq!(code, Code::EndorsementPolicyFailure);
    assert!(reason.contains("'kv', which is retired"), "{reason}");
    assert_eq!(
        network.submit(vec![commit]),
        [Code::EndorsementPolicyFailure]
    );
    // And a fresh commit is refused by the endorsers.
    let (_, responses) =
        network.lifecycle(&[0, 1], admin, "CommitChaincodeDefinition", next.commit());
    assert!(responses[0].response.message.contains("is retired"));
}

#[test]
fn bad_governance_input_is_refused_and_nothing_is_written() {
    let (network, _) = deployed_kv();
    let before = height(&network);
    // A non-admin.
    let message = refused(&network, network.client(0), "FreezeContract", "kv");
    assert!(
        message.contains("requires an admin of a channel org"),
        "{message}"
    );
    // An unknown contract.
    let (_, responses) = act(
        &network,
        network.admin(0),
        &[0],
        "FreezeContract",
        "nope",
        "",
    );
    assert_eq!(responses[0].response.status, 404);
    assert!(
        responses[0]
            .response
            .message
            .contains("namespace nope is not defined"),
        "{}",
        responses[0].response.message
    );
    // No name.
    let message = refused(&network, network.admin(0), "RetireContract", "");
    assert!(message.contains("no contract name given"), "{message}");
    // Unfreezing an active contract.
    let message = refused(&network, network.admin(0), "UnfreezeContract", "kv");
    assert!(message.contains("not frozen"), "{message}");
    assert_eq!(height(&network), before);
    assert_eq!(status(&network).state, ContractState::Active as i32);
    // Endorsed by one org's peer only: LifecycleEndorsement (a majority of two) fails.
    let admin = network.admin(0);
    let (proposal, responses) = act(&network, admin, &[0], "FreezeContract", "kv", "alone");
    let tx = Network::envelope(admin, &proposal, &responses);
    assert_eq!(network.submit(vec![tx]), [Code::EndorsementPolicyFailure]);
    assert_eq!(status(&network).state, ContractState::Active as i32);
    // Two freezes endorsed from the same state: the second in the block conflicts.
    let (first, _) = act_tx(&network, "FreezeContract", "one");
    let (second, _) = act_tx(&network, "FreezeContract", "two");
    assert_eq!(
        network.submit(vec![first, second]),
        [Code::Valid, Code::MvccReadConflict]
    );
    assert_eq!(status(&network).reason, "one");
}

/// `responses` re-signed by both peers as answers to `proposal` (another proposal with the
/// same call), as dishonest endorsers could.
fn answer_other_proposal(responses: &mut [ProposalResponse], proposal: &[u8]) {
    use cambium_wire::peer;
    let hash = cambium_wire::tx::parse_signed_proposal(proposal)
        .unwrap()
        .proposal_hash();
    for r in responses.iter_mut() {
        let mut prp = peer::ProposalResponsePayload::decode(r.payload.as_slice()).unwrap();
        prp.proposal_hash = hash.to_vec();
        r.payload = prp.encode_to_vec();
    }
    // Re-sign with the edited payloads (the action itself unchanged).
    crate::rollout::resign(responses, |_| {});
}

#[test]
fn the_validator_refuses_forged_governance_acts() {
    let (network, _) = deployed_kv();
    let admin = network.admin(0);
    let (proposal, responses) = act(&network, admin, &[0, 1], "FreezeContract", "kv", "r");
    // Endorsers that sign a freeze proposed by a client, not an admin.
    let client = network.client(0);
    let client_proposal = signed_proposal(
        client,
        CHANNEL,
        "_lifecycle",
        vec![b"FreezeContract".to_vec(), args("kv", "r")],
        false,
    );
    let mut by_client = responses.clone();
    answer_other_proposal(&mut by_client, &client_proposal);
    let (code, reason) = network.reason(Network::envelope(client, &client_proposal, &by_client));
    assert_eq!(code, Code::EndorsementPolicyFailure);
    assert!(
        reason.contains("must be submitted by an admin of a channel org"),
        "{reason}"
    );
    // Endorsers that leave out the read of the status key.
    let mut blind = responses.clone();
    crate::rollout::resign(&mut blind, |action| {
        let mut rwset = cambium_wire::decode_tx_rwset(&action.results).unwrap();
        for ns in &mut rwset.ns {
            ns.reads.retain(|r| r.key != "cambium/status/kv");
        }
        action.results = cambium_wire::encode_tx_rwset(&rwset);
    });
    let (code, reason) = network.reason(Network::envelope(admin, &proposal, &blind));
    assert_eq!(code, Code::EndorsementPolicyFailure);
    assert!(reason.contains("does not read the status"), "{reason}");
    // Endorsers that write an unfreeze of an active contract.
    let mut illegal = responses.clone();
    crate::rollout::resign(&mut illegal, |action| {
        let mut rwset = cambium_wire::decode_tx_rwset(&action.results).unwrap();
        for ns in &mut rwset.ns {
            for w in &mut ns.writes {
                let mut status = ContractStatus::decode(w.value.as_slice()).unwrap();
                status.state = ContractState::Active as i32;
                w.value = status.encode_to_vec();
            }
        }
        action.results = cambium_wire::encode_tx_rwset(&rwset);
    });
    let (code, reason) = network.reason(Network::envelope(admin, &proposal, &illegal));
    assert_eq!(code, Code::EndorsementPolicyFailure);
    assert!(
        reason.contains("is not legal from its committed status"),
        "{reason}"
    );
    // The honest one is valid.
    assert_eq!(
        network.submit(vec![Network::envelope(admin, &proposal, &responses)]),
        [Code::Valid]
    );
}

const BOTH_ADMINS: &str = "AND('Org1MSP.admin','Org2MSP.admin')";

/// The commit of `def` by Org1's admin endorsed by both peers: the responses.
fn endorse_commit(network: &Network, def: &Def) -> (Vec<u8>, Vec<ProposalResponse>) {
    network.lifecycle(
        &[0, 1],
        network.admin(0),
        "CommitChaincodeDefinition",
        def.commit(),
    )
}

#[test]
fn a_definitions_upgrade_policy_binds_the_next_commit() {
    let network = Network::new();
    let id = crate::rollout::install_both(&network, "kv_1");
    let v1 = Def::new("kv", 1, "1.0").with_upgrade_policy(BOTH_ADMINS);
    // Introducing the policy needs it: both orgs approved.
    crate::rollout::define(&network, &v1, &id);
    let (_, responses) = network.lifecycle(
        &[0],
        network.client(0),
        "QueryChaincodeDefinition",
        lc::QueryChaincodeDefinitionArgs { name: "kv".into() }.encode_to_vec(),
    );
    assert_eq!(
        cambium_lifecycle::upgrade_policy::from_message(&responses[0].response.payload)
            .unwrap()
            .as_deref(),
        Some(BOTH_ADMINS),
        "the committed upgrade policy is reported at field 1002"
    );

    // Sequence 2 keeps the policy and is endorsable by Org1 alone, so Org1 is ready with only
    // its own approval; the upgrade policy needs Org2's admin too.
    let v2 = Def::new("kv", 2, "2.0")
        .with_policy("OR('Org1MSP.peer')")
        .with_upgrade_policy(BOTH_ADMINS);
    network.approve(0, &v2, Some(&id));
    let (_, responses) = endorse_commit(&network, &v2);
    let message = &responses[0].response.message;
    assert_eq!(responses[0].response.status, 500);
    assert!(
        message.contains("the upgrade policy of the committed sequence 1")
            && message.contains(BOTH_ADMINS)
            && message.contains("missing approvals from: Org2MSP"),
        "{message}"
    );
    // Org2's approval of other parameters (dropping the policy) does not count.
    network.approve(
        1,
        &Def::new("kv", 2, "2.0").with_policy("OR('Org1MSP.peer')"),
        Some(&id),
    );
    let (_, responses) = endorse_commit(&network, &v2);
    assert!(responses[0]
        .response
        .message
        .contains("missing approvals from: Org2MSP"));
    let ready: lc::CheckCommitReadinessResult =
        network.query(0, "CheckCommitReadiness", v2.readiness());
    assert_eq!(
        ready.mismatches.get("Org2MSP").map(|m| m.items.clone()),
        Some(vec!["UpgradePolicy".to_owned()]),
        "the upgrade policy is part of what orgs approve"
    );
    network.approve(1, &v2, Some(&id));
    assert_eq!(network.commit(&[0, 1], &v2), Code::Valid);

    // Changing the policy needs the old and the new one: loosening to Org1 alone with only
    // Org1's approval fails the old policy.
    let v3 = Def::new("kv", 3, "3.0")
        .with_policy("OR('Org1MSP.peer')")
        .with_upgrade_policy("OR('Org1MSP.admin')");
    network.approve(0, &v3, Some(&id));
    let (_, responses) = endorse_commit(&network, &v3);
    assert!(
        responses[0]
            .response
            .message
            .contains("the upgrade policy of the committed sequence 2"),
        "{}",
        responses[0].response.message
    );
    network.approve(1, &v3, Some(&id));
    assert_eq!(network.commit(&[0, 1], &v3), Code::Valid);
    // Now Org1's admin alone satisfies the upgrade policy: Org1's peer endorses the commit
    // (LifecycleEndorsement still needs a majority of the orgs' peers to endorse it).
    let v4 = Def::new("kv", 4, "4.0")
        .with_policy("OR('Org1MSP.peer')")
        .with_upgrade_policy("OR('Org1MSP.admin')");
    network.approve(0, &v4, Some(&id));
    let (_, responses) = endorse_commit(&network, &v4);
    assert_eq!(
        responses[0].response.status, 200,
        "{}",
        responses[0].response.message
    );
}

#[test]
fn the_validator_checks_the_upgrade_policy_from_the_committed_approvals() {
    let network = Network::new();
    let id = crate::rollout::install_both(&network, "kv_1");
    crate::rollout::define(
        &network,
        &Def::new("kv", 1, "1.0").with_upgrade_policy(BOTH_ADMINS),
        &id,
    );
    let v2 = Def::new("kv", 2, "2.0").with_upgrade_policy(BOTH_ADMINS);
    network.approve(0, &v2, Some(&id));
    network.approve(1, &v2, Some(&id));
    // Two commits endorsed while both approvals match.
    let (honest, honest_responses) = endorse_commit(&network, &v2);
    let (other, other_responses) = endorse_commit(&network, &v2);
    // Then Org2's admin approves other parameters.
    network.approve(1, &Def::new("kv", 2, "2.0"), Some(&id));
    // The honest commit read Org2's approval: MVCC invalidates it.
    assert_eq!(
        network.submit(vec![Network::envelope(
            network.admin(0),
            &honest,
            &honest_responses
        )]),
        [Code::MvccReadConflict]
    );
    // Endorsers that drop the read of Org2's approval (so MVCC cannot see the change): the
    // validator counts only the approvals read and matching, and the upgrade policy fails.
    let mut forged = other_responses.clone();
    crate::rollout::resign(&mut forged, |action| {
        let mut rwset = cambium_wire::decode_tx_rwset(&action.results).unwrap();
        for ns in &mut rwset.ns {
            ns.reads
                .retain(|r| !r.key.starts_with("approvals/Org2MSP/"));
        }
        action.results = cambium_wire::encode_tx_rwset(&rwset);
    });
    let (code, reason) = network.reason(Network::envelope(network.admin(0), &other, &forged));
    assert_eq!(code, Code::EndorsementPolicyFailure, "{reason}");
    assert!(
        reason.contains("the upgrade policy of the committed sequence 1")
            && reason.contains("missing approvals from: Org2MSP"),
        "{reason}"
    );
    // The same commit with every read intact, had Org2 not changed its mind, is valid: shown
    // by the honest path in a_definitions_upgrade_policy_binds_the_next_commit.
}
