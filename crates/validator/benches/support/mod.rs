//! What the validator's benches share: identities from generated crypto material and endorsed
//! transactions built the way a Gateway client and its endorsing peers build them.

use std::path::Path;

use cambium_cryptogen::{generate, CryptoConfig, GenerateOptions, GeneratedNetwork, Role};
use cambium_msp::policy::PolicyGroup;
use cambium_msp::{load_signing_identity, MspConfig, MspManager, SigningIdentity};
use cambium_primitives::{ChaincodeResponse, Endorsement, Timestamp, TxRwSet};
use cambium_validator::StaticChannel;
use cambium_wire::encode_serialized_identity;
use cambium_wire::tx::{
    build_proposal, endorsement_message, endorser_transaction_payload, envelope_bytes,
    parse_signed_proposal, proposal_response_payload_bytes, signed_proposal_bytes,
    ChaincodeActionFields, ChaincodeIdFields, ProposalParts,
};

/// The channel every bench's transactions are for.
const CHANNEL: &str = "benchchannel";

/// The default development network's crypto material generated under `dir`, and a channel
/// [`CHANNEL`] of its two organisations (no channel policies: the benches' transactions are
/// judged by their endorsement policies).
pub(crate) fn two_org_channel(dir: &Path) -> (GeneratedNetwork, StaticChannel) {
    let net = generate(
        &CryptoConfig::default_network(),
        dir,
        GenerateOptions::default(),
    )
    .expect("crypto material");
    let configs: Vec<MspConfig> = ["Org1MSP", "Org2MSP"]
        .iter()
        .map(|id| MspConfig::from_dir(&net.org(id).expect("org").msp_dir, id).expect("MSP"))
        .collect();
    let channel = StaticChannel::new(
        CHANNEL,
        MspManager::from_configs(&configs).expect("MSPs"),
        PolicyGroup::new(),
    );
    (net, channel)
}

/// The signing identity of `role` in organisation `msp_id` of `net`.
pub(crate) fn identity(net: &GeneratedNetwork, msp_id: &str, role: Role) -> SigningIdentity {
    let org = net.org(msp_id).expect("org generated");
    let id = org
        .nodes
        .iter()
        .chain(&org.users)
        .find(|i| i.role == role)
        .expect("identity of that role");
    load_signing_identity(&id.msp_dir, msp_id).expect("signing identity loads")
}

/// The contract call a transaction makes.
pub(crate) struct Call<'a> {
    /// Contract name and version the endorsers report.
    pub(crate) chaincode: (&'a str, &'a str),
    /// The call's arguments, function name first.
    pub(crate) args: Vec<Vec<u8>>,
    /// The proposal nonce (it makes the transaction ID).
    pub(crate) nonce: Vec<u8>,
}

/// One transaction carrying `rwset`, proposed by `client` and endorsed by each of `endorsers`.
pub(crate) fn endorsed_transaction(
    client: &SigningIdentity,
    endorsers: &[&SigningIdentity],
    call: Call<'_>,
    rwset: &TxRwSet,
) -> Vec<u8> {
    let (name, version) = call.chaincode;
    let proposal = build_proposal(&ProposalParts {
        channel_id: CHANNEL.to_owned(),
        chaincode_name: name.to_owned(),
        args: call.args,
        transient: Default::default(),
        creator: encode_serialized_identity(&client.serialized()),
        nonce: call.nonce,
        timestamp: Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        },
    });
    let signature = client.sign(&proposal.proposal_bytes).expect("sign");
    let view = parse_signed_proposal(&signed_proposal_bytes(&proposal.proposal_bytes, &signature))
        .expect("proposal parses");
    let action = ChaincodeActionFields {
        results: cambium_wire::encode_tx_rwset(rwset),
        events: Vec::new(),
        response: Some(ChaincodeResponse::ok(Vec::new())),
        chaincode_id: Some(ChaincodeIdFields {
            name: name.to_owned(),
            version: version.to_owned(),
        }),
    }
    .encode();
    let prp = proposal_response_payload_bytes(&view.proposal_hash(), &action);
    let endorsements: Vec<Endorsement> = endorsers
        .iter()
        .map(|e| {
            let endorser = encode_serialized_identity(&e.serialized());
            Endorsement {
                signature: e.sign(&endorsement_message(&prp, &endorser)).expect("sign"),
                endorser,
            }
        })
        .collect();
    let payload = endorser_transaction_payload(&view, &prp, &endorsements);
    envelope_bytes(&payload, &client.sign(&payload).expect("sign"))
}
