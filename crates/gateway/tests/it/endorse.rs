//! Endorse: planning from the policy, remote endorsers, retries, mismatched payloads and the
//! prepared transaction's shape.

use cambium_wire::gateway::EndorseRequest;
use cambium_wire::status::gateway_error_details;
use cambium_wire::tx::{parse_envelope, parse_signed_proposal, parse_transaction};
use cambium_wire::{decode_serialized_identity, Message};
use tonic::Code;

use crate::support::{dead_address, material, proposal, proposal_on, with_endpoints, Net, CHANNEL};

fn request(signed: cambium_wire::peer::SignedProposal, orgs: &[&str]) -> EndorseRequest {
    EndorseRequest {
        transaction_id: String::new(),
        channel_id: CHANNEL.into(),
        proposed_transaction: Some(signed),
        endorsing_organizations: orgs.iter().map(|o| (*o).to_owned()).collect(),
    }
}

/// The MSP IDs of the prepared transaction's endorsers, checking its shape against the
/// proposal (fabric-compat §3).
fn endorsers(
    signed: &cambium_wire::peer::SignedProposal,
    envelope: &cambium_wire::common::Envelope,
) -> Vec<String> {
    assert!(envelope.signature.is_empty());
    let proposal = parse_signed_proposal(&signed.encode_to_vec()).unwrap();
    let view = parse_envelope(&envelope.encode_to_vec()).unwrap();
    assert_eq!(view.channel_header_bytes, proposal.channel_header_bytes);
    assert_eq!(view.signature_header_bytes, proposal.signature_header_bytes);
    let actions = parse_transaction(&view.data).unwrap();
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].header_bytes, proposal.signature_header_bytes);
    assert_eq!(
        actions[0].chaincode_proposal_payload,
        proposal.payload_without_transient()
    );
    assert_eq!(
        actions[0].proposal_hash,
        proposal.proposal_hash().to_vec(),
        "the PRP covers this proposal"
    );
    actions[0]
        .endorsements
        .iter()
        .map(|e| decode_serialized_identity(&e.endorser).unwrap().msp_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endorsement_plans_follow_the_policy() {
    let net = Net::start().await;
    let mut client = net.client.clone();
    let cases: [(&str, &[&str], &[&str]); 5] = [
        // Channel default MAJORITY Endorsement of two orgs: both, local first.
        ("kv", &[], &["Org1MSP", "Org2MSP"]),
        // OR: the local org alone.
        ("basic", &[], &["Org1MSP"]),
        // AND, explicitly.
        ("both", &[], &["Org1MSP", "Org2MSP"]),
        // Endorsing organisations named by the client win over the plan.
        ("basic", &["Org2MSP"], &["Org2MSP"]),
        ("kv", &["Org2MSP", "Org1MSP"], &["Org2MSP", "Org1MSP"]),
    ];
    for (contract, orgs, expected) in cases {
        let args: &[&str] = if contract == "kv" {
            &["put", "k", "v"]
        } else {
            &["AssetExists", "asset1"]
        };
        let (_, signed) = proposal(contract, args);
        let envelope = client
            .endorse(request(signed.clone(), orgs))
            .await
            .unwrap_or_else(|e| panic!("{contract} {orgs:?}: {e:?}"))
            .into_inner()
            .prepared_transaction
            .unwrap();
        assert_eq!(
            endorsers(&signed, &envelope),
            expected,
            "{contract} with {orgs:?}"
        );
    }

    // Transient data: only the local org, unless orgs are named.
    let (_, signed) = proposal_on(
        &material().org1_client,
        CHANNEL,
        "basic",
        &["AssetExists", "a"],
        &[("secret", b"x")],
    );
    let envelope = client
        .endorse(request(signed.clone(), &[]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        endorsers(&signed, &envelope.prepared_transaction.unwrap()),
        ["Org1MSP"]
    );
    let (_, signed) = proposal_on(
        &material().org1_client,
        CHANNEL,
        "kv",
        &["put", "k", "v"],
        &[("secret", b"x")],
    );
    let err = client
        .endorse(request(signed.clone(), &[]))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert!(err.message().contains("transient data"), "{err:?}");
    let envelope = client
        .endorse(request(signed.clone(), &["Org1MSP", "Org2MSP"]))
        .await
        .unwrap()
        .into_inner();
    let envelope = envelope.prepared_transaction.unwrap();
    assert_eq!(endorsers(&signed, &envelope), ["Org1MSP", "Org2MSP"]);
    assert!(
        !envelope.payload.windows(6).any(|w| w == b"secret"),
        "transient data never reaches the transaction"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endorsement_failures() {
    let mut net = Net::start().await;
    let mut client = net.client.clone();

    // The contract's error: Aborted with the chaincode response as the detail.
    let (_, signed) = proposal("kv", &["get", "nothing"]);
    let err = client.endorse(request(signed, &[])).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    assert_eq!(
        err.message(),
        "failed to endorse transaction, see attached details for more info"
    );
    let details = gateway_error_details(&err).unwrap();
    assert_eq!(details.len(), 1, "{details:?}");
    assert_eq!(details[0].msp_id, "Org1MSP");
    assert_eq!(
        details[0].message,
        "chaincode response 404, key 'nothing' does not exist"
    );

    // Payloads that differ between the orgs (another definition version at Org2).
    let (_, signed) = proposal("skew", &["put", "k", "v"]);
    let err = client.endorse(request(signed, &[])).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    assert_eq!(
        err.message(),
        "failed to collect enough transaction endorsements, see attached details for more info"
    );
    let details = gateway_error_details(&err).unwrap();
    assert_eq!(details.len(), 1, "{details:?}");
    assert_eq!(details[0].address, net.org2_addr);
    assert_eq!(details[0].msp_id, "Org2MSP");
    assert_eq!(details[0].message, "ProposalResponsePayloads do not match");

    // A dead Org2 peer listed first: the gateway retries the org's next peer.
    let dead = dead_address().await;
    let live = net.org2_addr.clone();
    let orderers = vec![net.orderer_addr.clone()];
    net.set_config(with_endpoints(
        &material().config,
        "127.0.0.1:1",
        &[dead.clone(), live],
        &orderers,
    ));
    let (_, signed) = proposal("kv", &["put", "k", "v"]);
    let envelope = client
        .endorse(request(signed.clone(), &[]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        endorsers(&signed, &envelope.prepared_transaction.unwrap()),
        ["Org1MSP", "Org2MSP"]
    );

    // Org2 entirely down: AND cannot be satisfied, OR still can.
    net.stop_org2().await;
    let (_, signed) = proposal("kv", &["put", "k", "v"]);
    let err = client.endorse(request(signed, &[])).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    assert_eq!(
        err.message(),
        "failed to collect enough transaction endorsements, see attached details for more info"
    );
    let details = gateway_error_details(&err).unwrap();
    let addresses: Vec<&str> = details.iter().map(|d| d.address.as_str()).collect();
    assert_eq!(
        addresses,
        [dead.as_str(), net.org2_addr.as_str()],
        "{details:?}"
    );
    assert!(details.iter().all(|d| d.msp_id == "Org2MSP"));
    let (_, signed) = proposal("basic", &["AssetExists", "a"]);
    client.endorse(request(signed, &[])).await.unwrap();

    // Requests the gateway refuses itself.
    let err = client.endorse(EndorseRequest::default()).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    let (_, signed) = proposal_on(
        &material().org1_client,
        "nochannel",
        "kv",
        &["put", "k", "v"],
        &[],
    );
    let err = client.endorse(request(signed, &[])).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_endorsers_over_mutual_tls() {
    use cambium_gateway::{ClientIdentity, GatewayOptions, TlsClientOptions};

    let m = material();
    let (cert_pem, key_pem) = m.org1_peer_tls.clone();
    let tls = |client_identity| GatewayOptions {
        local_address: "127.0.0.1:1".into(),
        tls: Some(TlsClientOptions {
            // Org2's TLS CA comes from the channel configuration alone.
            root_cas_pem: Vec::new(),
            client_identity,
        }),
        ..GatewayOptions::default()
    };
    let net = crate::support::Net::start_with(crate::support::NetOptions {
        gateway: tls(Some(ClientIdentity { cert_pem, key_pem })),
        org2_tls: true,
        ..Default::default()
    })
    .await;
    let mut client = net.client.clone();
    let (_, signed) = proposal("kv", &["put", "k", "v"]);
    let envelope = client
        .endorse(request(signed.clone(), &[]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        endorsers(&signed, &envelope.prepared_transaction.unwrap()),
        ["Org1MSP", "Org2MSP"]
    );

    // Without a client certificate Org2's peer refuses the connection.
    let net = crate::support::Net::start_with(crate::support::NetOptions {
        gateway: tls(None),
        org2_tls: true,
        ..Default::default()
    })
    .await;
    let mut client = net.client.clone();
    let (_, signed) = proposal("kv", &["put", "k", "v"]);
    let err = client.endorse(request(signed, &[])).await.unwrap_err();
    assert_eq!(err.code(), Code::Aborted, "{err:?}");
    let details = gateway_error_details(&err).unwrap();
    assert_eq!(details.len(), 1, "{details:?}");
    assert_eq!(details[0].address, net.org2_addr);
    assert_eq!(details[0].msp_id, "Org2MSP");
}
