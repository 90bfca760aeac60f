//! Calling a contract as an application user through a peer's Gateway: `cambium contract
//! invoke` (Endorse, sign, Submit, CommitStatus, as Fabric's `peer chaincode invoke
//! --waitForEvent` and the Gateway clients' `submitTransaction` do) and `cambium contract
//! query` (Evaluate, as `peer chaincode query` and `evaluateTransaction`); and [`AppUser`], the
//! user identity and peer that the load generators and block readers share.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use cambium_lifecycle::package_signing;
use cambium_msp::SigningIdentity;
use cambium_wire::gateway::gateway_client::GatewayClient;
use cambium_wire::gateway::{
    CommitStatusRequest, EndorseRequest, EvaluateRequest, SignedCommitStatusRequest, SubmitRequest,
};
use cambium_wire::{tx, Message};
use serde::Serialize;
use tonic::transport::Channel;

use crate::client::{self, validation_code_name};
use crate::connect::{connect, status_text, ClientTls, MAX_MESSAGE_BYTES};
use crate::error::{NodeError, Result};
use crate::profile::{ConnectionProfile, Node};

/// An application user of one organisation and the peer it talks to.
pub struct AppUser {
    /// The user's signing identity.
    pub signer: Arc<SigningIdentity>,
    /// Its serialized identity, as proposals carry it.
    pub creator: Vec<u8>,
    /// The channel.
    pub channel_id: String,
    /// The peer's name in the profile.
    pub peer: String,
    /// The peer's profile entry.
    node: Node,
    /// The user's TLS client certificate, for peers that ask for one.
    client_tls: Option<ClientTls>,
}

impl AppUser {
    /// `user` of `org` in `profile`, talking to `peer` (default: the organisation's first) on
    /// `channel` (default: the profile's).
    pub fn load(
        profile: &ConnectionProfile,
        org: &str,
        user: &str,
        peer: Option<&str>,
        channel: Option<&str>,
    ) -> Result<AppUser> {
        let (org_key, _) = profile.organization(org)?;
        let signer = profile.signing_identity(org_key, user)?;
        let files = profile.client_files(org_key, user)?;
        let client_tls = match (
            std::fs::read(&files.tls_cert),
            std::fs::read(&files.tls_key),
        ) {
            (Ok(cert), Ok(key)) => Some(ClientTls { cert, key }),
            _ => None,
        };
        let (peer, node) = profile.peer_of(org_key, peer)?;
        let channel_id = match channel {
            Some(c) => c.to_owned(),
            None => profile.channel()?.to_owned(),
        };
        Ok(AppUser {
            creator: cambium_wire::encode_serialized_identity(&signer.serialized()),
            signer: Arc::new(signer),
            channel_id,
            peer: peer.to_owned(),
            node: node.clone(),
            client_tls,
        })
    }

    /// A new connection to the peer.
    pub async fn connect(&self) -> Result<Channel> {
        connect(&self.node, self.client_tls.as_ref()).await
    }

    /// The peer's URL.
    pub fn endpoint(&self) -> &str {
        &self.node.url
    }
}

/// A contract call.
#[derive(Clone, Debug, Default)]
pub struct Call {
    /// The contract's name on the channel.
    pub contract: String,
    /// The function, then its arguments.
    pub args: Vec<Vec<u8>>,
    /// Private inputs that reach the contract but not the ledger (Fabric's transient map).
    pub transient: BTreeMap<String, Vec<u8>>,
    /// The caller's organisation (`Org1` or an MSP ID).
    pub org: String,
    /// The calling user, e.g. `User1`.
    pub user: String,
    /// The gateway peer; default the organisation's first.
    pub peer: Option<String>,
    /// The channel; default the profile's.
    pub channel: Option<String>,
    /// The organisations (names or MSP IDs) whose peers must endorse (invoke) or evaluate
    /// (query); empty: the gateway plans from the endorsement policy, or uses only its own
    /// organisation when the call carries transient data (as Fabric's gateway does).
    pub orgs: Vec<String>,
}

/// What a contract returned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Output {
    /// The contract's status (200 for success).
    pub status: i32,
    /// Its message, usually empty on success.
    pub message: String,
    /// The payload as text when it is UTF-8, else as hex.
    pub payload: String,
    /// `utf8` or `hex`: how `payload` is written.
    pub payload_encoding: &'static str,
}

impl Output {
    fn of(status: i32, message: String, payload: Vec<u8>) -> Output {
        let (payload, payload_encoding) = match String::from_utf8(payload) {
            Ok(text) => (text, "utf8"),
            Err(e) => (package_signing::hex(e.as_bytes()), "hex"),
        };
        Output {
            status,
            message,
            payload,
            payload_encoding,
        }
    }
}

/// A transaction that committed VALID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Invoked {
    /// Its transaction ID.
    pub tx_id: String,
    /// The block it committed in.
    pub block: u64,
    /// What the contract returned when it was endorsed.
    #[serde(flatten)]
    pub output: Output,
}

/// Refuses a call without a function before anything is sent.
fn check(call: &Call) -> Result<()> {
    if call.args.first().is_none_or(|f| f.is_empty()) {
        return Err(NodeError::Rejected(format!(
            "name the function of '{}' to call, e.g. `ReadAsset asset1`, or pass --ctor '{{\"Args\":[\"ReadAsset\",\"asset1\"]}}'",
            call.contract
        )));
    }
    Ok(())
}

/// The MSP IDs of `call.orgs`, each given as an organisation's name or MSP ID.
fn msp_ids(profile: &ConnectionProfile, call: &Call) -> Result<Vec<String>> {
    call.orgs
        .iter()
        .map(|org| Ok(profile.organization(org)?.1.mspid.clone()))
        .collect()
}

/// The calling user and its signed proposal of `call`.
fn propose(profile: &ConnectionProfile, call: &Call) -> Result<(AppUser, client::SignedProposal)> {
    check(call)?;
    let user = AppUser::load(
        profile,
        &call.org,
        &call.user,
        call.peer.as_deref(),
        call.channel.as_deref(),
    )?;
    let proposal = client::signed_proposal_with_transient(
        &user.signer,
        &user.channel_id,
        &call.contract,
        call.args.clone(),
        call.transient.clone(),
    )?;
    Ok((user, proposal))
}

fn gateway(channel: Channel) -> GatewayClient<Channel> {
    GatewayClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

fn function(call: &Call) -> String {
    String::from_utf8_lossy(&call.args[0]).into_owned()
}

/// Where a write through the Gateway stopped.
#[derive(Debug)]
pub(crate) enum WriteError {
    /// The client could not sign.
    Sign(NodeError),
    /// A Gateway call (`Endorse`, `Submit` or `CommitStatus`) was refused.
    Rpc(&'static str, tonic::Status),
    /// Endorse answered without a transaction.
    NoTransaction,
}

impl WriteError {
    /// The error a command reports, naming the gateway peer.
    fn into_node_error(self, endpoint: &str) -> NodeError {
        match self {
            WriteError::Sign(e) => e,
            WriteError::Rpc(call, status) => NodeError::Rpc {
                endpoint: endpoint.to_owned(),
                call,
                message: status_text(&status),
            },
            WriteError::NoTransaction => {
                NodeError::Rejected("the gateway endorsed but returned no transaction".to_owned())
            }
        }
    }

    /// The failure's category in a load generator's table: the step, and the status code
    /// (the whole message for Endorse, which carries the contract's).
    pub(crate) fn category(&self) -> String {
        match self {
            WriteError::Sign(e) => format!("sign: {e}"),
            WriteError::Rpc("Endorse", s) => format!("endorse: {}", status_text(s)),
            WriteError::Rpc("Submit", s) => format!("submit: {:?}", s.code()),
            WriteError::Rpc(_, s) => format!("commit status: {:?}", s.code()),
            WriteError::NoTransaction => "endorse: no prepared transaction".to_owned(),
        }
    }
}

/// A transaction the Gateway endorsed and ordered, and the peer reported committed.
pub(crate) struct Submitted {
    /// Its validation code (0: VALID).
    pub(crate) code: i32,
    /// The block it committed in.
    pub(crate) block: u64,
    /// The endorsed transaction's payload, as the client signed it.
    pub(crate) payload: Vec<u8>,
    /// The Endorse, Submit and CommitStatus times from `started`, ms (each with the client's
    /// signing for that step).
    pub(crate) phases_ms: [f64; 3],
}

/// A Fabric application's write of a signed `proposal` through the Gateway on `channel`:
/// Endorse (by `endorsing_organizations`, or as the gateway plans), sign, Submit,
/// CommitStatus. `started` is when the client began (before signing the proposal).
pub(crate) async fn submit(
    user: &AppUser,
    channel: Channel,
    proposal: &client::SignedProposal,
    endorsing_organizations: Vec<String>,
    started: Instant,
) -> std::result::Result<Submitted, WriteError> {
    let mut gw = gateway(channel);
    let endorsed = gw
        .endorse(EndorseRequest {
            transaction_id: proposal.tx_id.clone(),
            channel_id: user.channel_id.clone(),
            proposed_transaction: Some(proposal.message.clone()),
            endorsing_organizations,
        })
        .await
        .map_err(|s| WriteError::Rpc("Endorse", s))?
        .into_inner();
    let endorsed_at = Instant::now();
    let mut envelope = endorsed
        .prepared_transaction
        .ok_or(WriteError::NoTransaction)?;
    envelope.signature = user
        .signer
        .sign(&envelope.payload)
        .map_err(|e| WriteError::Sign(e.into()))?;
    let payload = envelope.payload.clone();
    gw.submit(SubmitRequest {
        transaction_id: proposal.tx_id.clone(),
        channel_id: user.channel_id.clone(),
        prepared_transaction: Some(envelope),
    })
    .await
    .map_err(|s| WriteError::Rpc("Submit", s))?;
    let submitted_at = Instant::now();
    let request = CommitStatusRequest {
        transaction_id: proposal.tx_id.clone(),
        channel_id: user.channel_id.clone(),
        identity: user.creator.clone(),
    }
    .encode_to_vec();
    let signature = user
        .signer
        .sign(&request)
        .map_err(|e| WriteError::Sign(e.into()))?;
    let status = gw
        .commit_status(SignedCommitStatusRequest { request, signature })
        .await
        .map_err(|s| WriteError::Rpc("CommitStatus", s))?
        .into_inner();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    Ok(Submitted {
        code: status.result,
        block: status.block_number,
        payload,
        phases_ms: [
            ms(endorsed_at - started),
            ms(submitted_at - endorsed_at),
            ms(submitted_at.elapsed()),
        ],
    })
}

/// Submits `call` and waits for its commit: endorsed by the peers the contract's policy needs
/// (the gateway chooses them) or by `call.orgs`, signed, ordered, committed. A transaction that
/// commits with any code but VALID is an error naming the code.
pub async fn invoke(profile: &ConnectionProfile, call: &Call) -> Result<Invoked> {
    let started = Instant::now();
    let (user, proposal) = propose(profile, call)?;
    let orgs = msp_ids(profile, call)?;
    let submitted = submit(&user, user.connect().await?, &proposal, orgs, started)
        .await
        .map_err(|e| e.into_node_error(user.endpoint()))?;
    if submitted.code != 0 {
        return Err(NodeError::Rejected(format!(
            "{} of '{}': transaction {} committed in block {} as {}, so its writes were not applied; \
             submit it again (an MVCC_READ_CONFLICT means another transaction changed what it read)",
            function(call),
            call.contract,
            proposal.tx_id,
            submitted.block,
            validation_code_name(submitted.code)
        )));
    }
    Ok(Invoked {
        tx_id: proposal.tx_id,
        block: submitted.block,
        output: endorsed_output(&submitted.payload)?,
    })
}

/// The contract's response inside an endorsed transaction's payload.
fn endorsed_output(payload: &[u8]) -> Result<Output> {
    let data = tx::parse_envelope(&tx::envelope_bytes(payload, &[]))?.data;
    let actions = tx::parse_transaction(&data)?;
    let response = actions
        .first()
        .and_then(|a| a.action.response.clone())
        .ok_or_else(|| {
            NodeError::Rejected("the endorsed transaction carries no contract response".into())
        })?;
    Ok(Output::of(
        response.status,
        response.message,
        response.payload,
    ))
}

/// Evaluates `call` on the gateway peer without ordering it; nothing it writes is kept.
pub async fn query(profile: &ConnectionProfile, call: &Call) -> Result<Output> {
    let (user, proposal) = propose(profile, call)?;
    let target_organizations = msp_ids(profile, call)?;
    let response = gateway(user.connect().await?)
        .evaluate(EvaluateRequest {
            transaction_id: proposal.tx_id.clone(),
            channel_id: user.channel_id.clone(),
            proposed_transaction: Some(proposal.message),
            target_organizations,
        })
        .await
        .map_err(|s| NodeError::Rpc {
            endpoint: user.endpoint().to_owned(),
            call: "Evaluate",
            message: status_text(&s),
        })?
        .into_inner();
    let result = response.result.ok_or_else(|| {
        NodeError::Rejected("the gateway evaluated but returned no result".to_owned())
    })?;
    Ok(Output::of(result.status, result.message, result.payload))
}

/// A constructor in Fabric's `peer chaincode -c` form, `{"Args":["F","a"]}` or
/// `{"function":"F","Args":["a"]}`, as the function followed by its arguments.
pub fn parse_ctor(json: &str) -> Result<Vec<Vec<u8>>> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Ctor {
        #[serde(default, alias = "Function")]
        function: Option<String>,
        #[serde(default, alias = "args")]
        #[serde(rename = "Args")]
        args: Vec<String>,
    }
    let bad = |why: String| {
        NodeError::Rejected(format!(
            "--ctor {json}: {why}; write it as Fabric does, e.g. '{{\"Args\":[\"CreateAsset\",\"asset1\"]}}' or '{{\"function\":\"CreateAsset\",\"Args\":[\"asset1\"]}}'"
        ))
    };
    let value: serde_json::Value = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    if !value.is_object() {
        return Err(bad("it is not a JSON object".to_owned()));
    }
    let ctor: Ctor = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
    let args: Vec<Vec<u8>> = ctor
        .function
        .into_iter()
        .chain(ctor.args)
        .map(String::into_bytes)
        .collect();
    if args.is_empty() {
        return Err(bad("it names no function".to_owned()));
    }
    Ok(args)
}

/// A transient entry written `KEY=VALUE`.
pub fn parse_transient(entry: &str) -> Result<(String, Vec<u8>)> {
    match entry.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.as_bytes().to_vec())),
        _ => Err(NodeError::Rejected(format!(
            "--transient {entry}: write KEY=VALUE, e.g. --transient asset_properties='{{\"size\":5}}'"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(args: &[Vec<u8>]) -> Vec<&str> {
        args.iter()
            .map(|a| std::str::from_utf8(a).unwrap())
            .collect()
    }

    #[test]
    fn ctor_takes_both_fabric_forms_and_refuses_others_with_an_example() {
        let a = parse_ctor(r#"{"Args":["CreateAsset","a1","blue"]}"#).unwrap();
        assert_eq!(texts(&a), ["CreateAsset", "a1", "blue"]);
        let b = parse_ctor(r#"{"function":"CreateAsset","Args":["a1"]}"#).unwrap();
        assert_eq!(texts(&b), ["CreateAsset", "a1"]);
        for bad in [
            r#"{"Args":[]}"#,
            r#"["CreateAsset"]"#,
            r#"{"Arg":["x"]}"#,
            "{",
        ] {
            let err = parse_ctor(bad).unwrap_err().to_string();
            assert!(
                err.contains(r#"'{"Args":["CreateAsset","asset1"]}'"#),
                "{err}"
            );
        }
    }

    #[test]
    fn transient_entries_are_key_equals_value() {
        assert_eq!(
            parse_transient("price=100=USD").unwrap(),
            ("price".to_owned(), b"100=USD".to_vec())
        );
        for bad in ["price", "=100"] {
            let err = parse_transient(bad).unwrap_err().to_string();
            assert!(err.contains("write KEY=VALUE"), "{err}");
        }
    }

    #[test]
    fn payloads_are_text_when_utf8_else_hex() {
        let text = Output::of(200, String::new(), b"{\"id\":\"a1\"}".to_vec());
        assert_eq!(
            (text.payload.as_str(), text.payload_encoding),
            ("{\"id\":\"a1\"}", "utf8")
        );
        let bin = Output::of(200, String::new(), vec![0xfe, 0x00, 0x41]);
        assert_eq!(
            (bin.payload.as_str(), bin.payload_encoding),
            ("fe0041", "hex")
        );
    }

    #[test]
    fn a_call_without_a_function_is_refused() {
        let call = Call {
            contract: "basic".into(),
            ..Call::default()
        };
        let err = check(&call).unwrap_err().to_string();
        assert!(err.contains("name the function of 'basic'"), "{err}");
    }
}
