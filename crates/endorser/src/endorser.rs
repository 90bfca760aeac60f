//! The endorser: Fabric's proposal pre-checks, simulation through the VM over one ledger
//! snapshot, and the signed proposal response.
//!
//! # Checks, in Fabric's order
//!
//! 1. The proposal decodes (`error unpacking proposal: …`), its header extension names a
//!    chaincode (`ChaincodeHeaderExtension.ChaincodeId is nil` / `… .Name is empty`) and it
//!    carries an invocation spec with input (`chaincode invocation spec did not contain
//!    chaincode spec`, `chaincode input did not contain any input`), as Fabric's
//!    `UnpackProposal`.
//! 2. The creator's certificate has not expired; Fabric's expiration filter answers this with a
//!    gRPC error (`proposal client identity expired`), so this is
//!    [`EndorserError::IdentityExpired`], not a response.
//! 3. The channel is joined (`channel '<id>' not found`).
//! 4. Fabric's `Validate`, each message prefixed `error validating proposal: `: header type
//!    ENDORSER_TRANSACTION (`invalid header type <T>`), epoch 0 (`epoch is non-zero`), nonce
//!    (`nonce is empty`), creator (`creator is empty`), transaction ID (`incorrectly computed
//!    txid '<got>' -- expected '<want>'`), signature present (`empty signature bytes`), creator
//!    valid in a channel MSP and signer of `proposal_bytes` (`access denied: channel [<ch>]
//!    creator org [<msp>]`). Fabric stops there; Cambium appends the reason after `: ` so the
//!    client can act on it.
//! 5. The transaction ID is not in the ledger (`duplicate transaction found [<id>]. Creator
//!    [<hex>]`), then the ACL `peer/Propose` = `/Channel/Application/Writers` (`access denied:
//!    channel [<ch>] creator org [<msp>]: <policy error>`). Fabric checks duplicates before the
//!    ACL; so does Cambium.
//!
//! Each refusal in 1 and 3–5 is a `ProposalResponse{Response{500, message}}` with no payload,
//! as Fabric's `ProcessProposal` returns them (it never fails the gRPC call for these).
//!
//! Proposals to `qscc` (see [`crate::qscc`]) skip the Writers ACL, as Fabric's system
//! chaincodes do; the query checks `/Channel/Application/Readers` of the channel it names and
//! its answer is endorsed like a contract's, with version `syscc` and an empty read/write set.
//!
//! # Simulation and the response
//!
//! The contract comes from the channel's [`ContractRegistry`]; an unknown one is `error in
//! simulation: make sure the chaincode <name> has been successfully defined on channel <ch>
//! and try again: chaincode definition for '<name>' not found` (status 500). The VM runs the
//! call against a [`LedgerState`] over the same snapshot the duplicate check used; a VM failure
//! (out of fuel, trap, limit) is `error in simulation: <deterministic VM message>` (status 500,
//! no payload). Otherwise the proposal response payload is built per fabric-compat §3 and, by
//! the contract's status: below 400 it is endorsed; 400–499 only the response is returned;
//! 500 and above the response and the payload, unendorsed.
//!
//! A contract the call reaches through `invoke_contract` that is frozen or retired does not
//! run, and the proposal is refused like a direct one: `error in simulation: contract <caller>
//! called <callee>, which refuses it: contract <callee> is frozen since block <n>: <reason>; …`
//! (status 500, nothing endorsed), whatever the caller made of the failed call.
//!
//! With an observer ([`Endorser::set_observer`]), every proposal that reached a routed contract
//! version is reported with its outcome and simulation time (see [`crate::observe`]).

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Instant;

use cambium_channel::ChannelConfig;
use cambium_ledger::{BlockReader, SnapshotSource, StateReader};
use cambium_lifecycle::scc::{self as lifecycle_scc, Acl};
use cambium_lifecycle::{LedgerSimulation, LifecycleError};
use cambium_msp::policy::SignedData;
use cambium_msp::Identity;
use cambium_msp::{Certificate, Msp, SigningIdentity};
use cambium_primitives::chaincode::{STATUS_ERROR, STATUS_ERROR_THRESHOLD};
use cambium_primitives::{
    ChaincodeEvent, ChaincodeResponse, Endorsement, HeaderType, KvRead, KvWrite, NsRwSet,
    RangeQueryInfo, RangeQueryReads, SerializedIdentity, TxRwSet,
};
use cambium_vm::{Call, Creator, Env, Timestamp, Vm};
use cambium_wire::tx::{
    endorsement_message, parse_signed_proposal, proposal_response_bytes,
    proposal_response_payload_bytes, ChaincodeActionFields, ChaincodeIdFields, ProposalView,
};
use cambium_wire::{encode_chaincode_event, encode_serialized_identity, encode_tx_rwset};

use crate::cscc;
use crate::error::{EndorserError, Result};
use crate::lifecycle::PeerLifecycle;
use crate::observe::{EndorsementObserver, EndorsementOutcome, Recorders};
use crate::qscc::{self, SYSTEM_CHAINCODE_VERSION};
use crate::registry::{
    ContractRegistry, InstalledContract, LookupError, ProposalOrigin, RegistryResolver,
};
use crate::state::{to_tx_rwset, LedgerState};

/// The channel policy Fabric's default ACL maps `peer/Propose` to.
pub const PROPOSE_POLICY: &str = "/Channel/Application/Writers";

/// A ledger snapshot as the endorser uses it: state reads and the transaction-ID index.
pub trait LedgerView: StateReader + BlockReader + Send + Sync {}

impl<T: StateReader + BlockReader + Send + Sync> LedgerView for T {}

/// Where a channel's snapshots come from; implemented for every [`SnapshotSource`] whose
/// snapshots can be shared between threads (such as [`cambium_ledger::Ledger`]).
pub trait LedgerSource: Send + Sync {
    /// A view of everything committed so far.
    fn snapshot_view(&self) -> cambium_ledger::Result<Arc<dyn LedgerView>>;
}

impl<S> LedgerSource for S
where
    S: SnapshotSource + Send + Sync,
    S::Snapshot: Sync + 'static,
{
    fn snapshot_view(&self) -> cambium_ledger::Result<Arc<dyn LedgerView>> {
        Ok(Arc::new(self.snapshot()?))
    }
}

/// A channel this peer endorses for: its configuration, ledger and contracts.
#[derive(Clone)]
pub struct EndorserChannel {
    /// The channel's current configuration (MSPs and policies).
    pub config: Arc<ChannelConfig>,
    /// The channel's ledger.
    pub ledger: Arc<dyn LedgerSource>,
    /// The contracts defined and installed on the channel.
    pub contracts: Arc<dyn ContractRegistry>,
}

impl std::fmt::Debug for EndorserChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndorserChannel")
            .field("channel_id", &self.config.channel_id())
            .finish_non_exhaustive()
    }
}

/// What a definition commit's migration produced: its read/write set, and the line the
/// peer reports about it (keys and fuel) beside the endorsed response.
struct Migrated {
    rwset: TxRwSet,
    note: String,
}

/// A proposal response as the endorser decides it; [`ProposalResponse::to_bytes`] gives the
/// `protos.ProposalResponse` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProposalResponse {
    /// The contract's response, or the peer's `Response{500, message}` for a refusal.
    pub response: ChaincodeResponse,
    /// The proposal response payload bytes (empty for a refusal or a 4xx response).
    pub payload: Vec<u8>,
    /// The peer's endorsement, present only when the contract's status is below 400.
    pub endorsement: Option<Endorsement>,
}

impl ProposalResponse {
    /// A refusal: `Response{500, message}`, nothing else.
    pub fn refused(message: impl Into<String>) -> Self {
        ProposalResponse {
            response: ChaincodeResponse::error(message),
            payload: Vec::new(),
            endorsement: None,
        }
    }

    /// Whether the peer endorsed the proposal.
    pub fn is_endorsed(&self) -> bool {
        self.endorsement.is_some()
    }

    /// The `protos.ProposalResponse` bytes (version 1).
    pub fn to_bytes(&self) -> Vec<u8> {
        proposal_response_bytes(&self.response, &self.payload, self.endorsement.as_ref())
    }
}

/// Endorses proposals for the channels it holds, signing with the peer's identity.
pub struct Endorser {
    vm: Arc<Vm>,
    signer: Arc<SigningIdentity>,
    endorser_bytes: Vec<u8>,
    channels: RwLock<BTreeMap<String, EndorserChannel>>,
    lifecycle: RwLock<Option<PeerLifecycle>>,
    observer: OnceLock<Recorders>,
}

impl std::fmt::Debug for Endorser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endorser")
            .field("msp_id", &self.signer.msp_id())
            .field("channels", &self.channel_ids())
            .finish_non_exhaustive()
    }
}

/// A refusal inside the pipeline: the message of the `Response{500, message}` to send back.
pub(crate) struct Refusal(pub(crate) String);

impl Refusal {
    fn refused(message: impl Into<String>) -> Refusal {
        Refusal(message.into())
    }
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

impl Endorser {
    /// An endorser that runs contracts on `vm` and signs with `signer` (the peer's identity).
    pub fn new(vm: Arc<Vm>, signer: Arc<SigningIdentity>) -> Endorser {
        let endorser_bytes = encode_serialized_identity(&signer.serialized());
        Endorser {
            vm,
            signer,
            endorser_bytes,
            channels: RwLock::new(BTreeMap::new()),
            lifecycle: RwLock::new(None),
            observer: OnceLock::new(),
        }
    }

    /// Reports every simulated contract proposal to `observer`, per contract version (see
    /// [`crate::observe`]). Set once: returns `false`, keeping the first, if one was set
    /// already.
    pub fn set_observer(&self, observer: Arc<dyn EndorsementObserver>) -> bool {
        self.observer.set(Recorders::new(observer)).is_ok()
    }

    /// Serves `_lifecycle` with this peer's local MSP and package store. Without it,
    /// `_lifecycle` proposals are refused.
    pub fn set_lifecycle(&self, lifecycle: PeerLifecycle) {
        *self
            .lifecycle
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(lifecycle);
    }

    fn lifecycle(&self) -> Option<PeerLifecycle> {
        self.lifecycle
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Joins (or updates) the channel `channel.config.channel_id()`.
    pub fn add_channel(&self, channel: EndorserChannel) {
        let id = channel.config.channel_id().to_owned();
        self.channels
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(id, channel);
    }

    /// Leaves `channel_id`; returns whether it was joined.
    pub fn remove_channel(&self, channel_id: &str) -> bool {
        self.channels
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(channel_id)
            .is_some()
    }

    /// The channels joined, in order.
    pub fn channel_ids(&self) -> Vec<String> {
        self.channels
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .keys()
            .cloned()
            .collect()
    }

    /// The serialized identity this endorser puts in its endorsements.
    pub fn endorser_identity(&self) -> &[u8] {
        &self.endorser_bytes
    }

    fn channel(&self, channel_id: &str) -> Option<EndorserChannel> {
        self.channels
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(channel_id)
            .cloned()
    }

    /// Checks, simulates and (when the contract succeeds) endorses a `protos.SignedProposal`,
    /// checking certificates at the current time. See the module docs for the checks and the
    /// response shapes. `Err` only where Fabric fails the gRPC call (an expired client).
    pub fn process_proposal(&self, signed_proposal: &[u8]) -> Result<ProposalResponse> {
        self.process_proposal_at(signed_proposal, unix_now())
    }

    /// [`Endorser::process_proposal`] with certificates checked at `now` (unix seconds).
    pub fn process_proposal_at(
        &self,
        signed_proposal: &[u8],
        now: i64,
    ) -> Result<ProposalResponse> {
        let view = match unpack(signed_proposal) {
            Ok(view) => view,
            Err(refusal) => return Ok(ProposalResponse::refused(refusal.0)),
        };
        if let Some(expired_at) = expired(&view, now) {
            return Err(EndorserError::IdentityExpired { expired_at });
        }
        Ok(self
            .endorse(&view, now)
            .unwrap_or_else(|refusal| ProposalResponse::refused(refusal.0)))
    }

    fn endorse(
        &self,
        view: &ProposalView,
        now: i64,
    ) -> std::result::Result<ProposalResponse, Refusal> {
        let channel_id = view.channel_header.channel_id.as_str();
        if channel_id.is_empty() && view.chaincode_name.as_deref() == Some(LIFECYCLE) {
            return self.channel_less_lifecycle(view, now);
        }
        if channel_id.is_empty()
            && matches!(
                view.chaincode_name.as_deref(),
                Some(cscc::CSCC) | Some(qscc::QSCC)
            )
            && self.lifecycle().is_some()
        {
            return self.channel_less_query(view, now);
        }
        let Some(channel) = self.channel(channel_id) else {
            return Err(Refusal::refused(format!(
                "channel '{channel_id}' not found"
            )));
        };
        let (creator, creator_identity) = validate(view, &channel.config, now)
            .map_err(|m| Refusal::refused(format!("error validating proposal: {m}")))?;
        let tx_id = view.channel_header.tx_id.as_str();
        let snapshot = channel.ledger.snapshot_view().map_err(|e| {
            Refusal::refused(format!(
                "cannot read the ledger of channel '{channel_id}': {e}; check the peer's ledger directory"
            ))
        })?;
        match snapshot.transaction(tx_id) {
            Ok(None) => {}
            Ok(Some(_)) => {
                return Err(Refusal::refused(format!(
                    "duplicate transaction found [{tx_id}]. Creator [{}]",
                    hex_string(&view.creator_bytes)
                )))
            }
            Err(e) => {
                return Err(Refusal::refused(format!(
                "cannot look up transaction [{tx_id}] in the ledger of channel '{channel_id}': {e}"
            )))
            }
        }
        let signed = SignedData {
            data: view.proposal_bytes.clone(),
            identity: creator.clone(),
            signature: view.signature.clone(),
        };
        if view.chaincode_name.as_deref() == Some(qscc::QSCC) {
            // System chaincodes skip peer/Propose; qscc checks its own ACL per function.
            let (response, version) = (self.query(view, &signed, now), SYSTEM_CHAINCODE_VERSION);
            return self.respond(view, response, &TxRwSet::default(), None, version);
        }
        if view.chaincode_name.as_deref() == Some(cscc::CSCC) {
            let member = self.local_member(&creator, now);
            let response = self.cscc_call(view, &signed, member, now);
            return self.respond(
                view,
                response,
                &TxRwSet::default(),
                None,
                SYSTEM_CHAINCODE_VERSION,
            );
        }
        if view.chaincode_name.as_deref() == Some(LIFECYCLE) {
            // `_lifecycle` checks its own ACL per function, like every system chaincode.
            return self.lifecycle_call(view, &channel, snapshot, &creator, now);
        }
        channel
            .config
            .evaluate(PROPOSE_POLICY, &[signed], now)
            .map_err(|e| {
                Refusal::refused(format!(
                    "access denied: channel [{channel_id}] creator org [{}]: failed evaluating policy {PROPOSE_POLICY} (ACL peer/Propose): {e}",
                    creator.msp_id
                ))
            })?;
        let origin = ProposalOrigin {
            tx_id: tx_id.to_owned(),
            msp_id: creator.msp_id.clone(),
            identity: view.creator_bytes.clone(),
            ous: creator_identity
                .certificate()
                .organizational_units()
                .to_vec(),
        };
        self.simulate(view, &channel, snapshot, creator, origin)
    }

    fn simulate(
        &self,
        view: &ProposalView,
        channel: &EndorserChannel,
        snapshot: Arc<dyn LedgerView>,
        creator: SerializedIdentity,
        origin: ProposalOrigin,
    ) -> std::result::Result<ProposalResponse, Refusal> {
        let channel_id = view.channel_header.channel_id.as_str();
        let name = view.chaincode_name.clone().unwrap_or_default();
        if let Some(message) = governance_refusal(snapshot.as_ref(), &name)? {
            return Err(Refusal::refused(message));
        }
        let routed = channel
            .contracts
            .routed_contract(&name, snapshot.as_ref(), &origin);
        let installed = match routed {
            Ok(installed) => installed,
            Err(LookupError::NotDefined) => {
                return Err(Refusal::refused(format!(
                    "error in simulation: make sure the chaincode {name} has been successfully defined on channel {channel_id} and try again: chaincode definition for '{name}' not found"
                )))
            }
            Err(LookupError::NotInstalled(reason)) | Err(LookupError::Failed(reason)) => {
                return Err(Refusal::refused(format!(
                    "error in simulation: make sure the chaincode {name} has been successfully defined on channel {channel_id} and try again: {reason}"
                )))
            }
        };
        let Some(recorders) = self.observer.get() else {
            let (response, rwset, event) =
                self.run(view, channel, snapshot, creator, origin, &installed)?;
            return self.respond(view, response, &rwset, event.as_ref(), &installed.version);
        };
        let started = Instant::now();
        let ran = self.run(view, channel, snapshot, creator, origin, &installed);
        let simulation = started.elapsed();
        let answer = ran.and_then(|(response, rwset, event)| {
            self.respond(view, response, &rwset, event.as_ref(), &installed.version)
        });
        let outcome = match &answer {
            Err(_) => EndorsementOutcome::Failed,
            Ok(r) if r.response.status >= STATUS_ERROR_THRESHOLD => {
                EndorsementOutcome::ContractError
            }
            Ok(r) if r.is_endorsed() => EndorsementOutcome::Ok,
            Ok(_) => EndorsementOutcome::Failed,
        };
        recorders
            .get(channel_id, &name, &installed.version)
            .record(outcome, simulation);
        answer
    }

    /// Runs the routed contract `installed` for the proposal: the init rule, then the VM over
    /// the snapshot, with contracts it calls resolved (and refused when frozen or retired) by
    /// the channel's registry.
    fn run(
        &self,
        view: &ProposalView,
        channel: &EndorserChannel,
        snapshot: Arc<dyn LedgerView>,
        creator: SerializedIdentity,
        origin: ProposalOrigin,
        installed: &InstalledContract,
    ) -> std::result::Result<(ChaincodeResponse, TxRwSet, Option<ChaincodeEvent>), Refusal> {
        let channel_id = view.channel_header.channel_id.as_str();
        let name = view.chaincode_name.as_deref().unwrap_or_default();
        let init = if installed.init_required {
            Some(check_init(
                view,
                snapshot.as_ref(),
                name,
                &installed.version,
            )?)
        } else {
            None
        };
        let tx_id = view.channel_header.tx_id.clone();
        let timestamp = view
            .channel_header
            .timestamp
            .map(|t| Timestamp {
                seconds: t.seconds,
                nanos: t.nanos,
            })
            .unwrap_or_default();
        let call = Call {
            channel_id: channel_id.to_owned(),
            tx_id: tx_id.clone(),
            timestamp,
            contract: name.to_owned(),
            args: view.args.clone(),
            creator: Creator {
                msp_id: creator.msp_id,
                cert: creator.id_bytes,
                attributes: BTreeMap::new(),
            },
            transient: view.transient.clone(),
        };
        let resolver = Arc::new(RegistryResolver::new(
            Arc::clone(&channel.contracts),
            Arc::clone(&snapshot),
            origin,
        ));
        let env = Env::with_contracts(
            Arc::new(LedgerState::from_arc(snapshot)),
            Arc::clone(&resolver) as Arc<dyn cambium_vm::ContractResolver>,
        );
        let outcome = self.vm.execute(&installed.contract, &call, &env);
        // A call to a frozen or retired contract refuses the whole proposal, whatever the
        // caller made of the call's failure, exactly as a proposal sent to it directly.
        if let Some(refusal) = resolver.refusal() {
            return Err(Refusal::refused(format!(
                "error in simulation: contract {name} called {refusal}"
            )));
        }
        let outcome = outcome.map_err(|e| Refusal::refused(format!("error in simulation: {e}")))?;

        let response = ChaincodeResponse {
            status: outcome.response.status,
            message: outcome.response.message,
            payload: outcome.response.payload,
        };
        let event = outcome.event.map(|event| ChaincodeEvent {
            chaincode_id: name.to_owned(),
            tx_id,
            event_name: event.name,
            payload: event.payload,
        });
        let mut rwset = to_tx_rwset(&outcome.rwset);
        if let Some(init) = init {
            init.record(&mut rwset, name, &installed.version);
        }
        Ok((response, rwset, event))
    }

    /// A channel-less `_lifecycle` proposal (the peer CLI's install and installed-package
    /// queries): checked against the local MSP and answered with a `Response` only.
    fn channel_less_lifecycle(
        &self,
        view: &ProposalView,
        now: i64,
    ) -> std::result::Result<ProposalResponse, Refusal> {
        let Some(lifecycle) = self.lifecycle() else {
            return Err(no_lifecycle());
        };
        let (_, identity) = validate_local_creator(view, &lifecycle.local_msp, false, now)?;
        let response = match lifecycle_scc::split_args(&view.args) {
            Err(e) => lifecycle_scc::respond(LIFECYCLE, Err(e)),
            Ok((function, _)) if !lifecycle_scc::is_peer_local(function) => {
                ChaincodeResponse::error(format!(
                    "function '{function}' of _lifecycle needs a channel; send the proposal on the channel it is for"
                ))
            }
            Ok((function, input)) => match require_admin(&lifecycle, &identity, function) {
                Err(message) => ChaincodeResponse::error(message),
                Ok(()) => lifecycle_scc::respond(
                    function,
                    lifecycle_scc::invoke_local(
                        lifecycle.packages.as_ref(),
                        &|id| self.package_references(id),
                        function,
                        input,
                    ),
                ),
            },
        };
        Ok(ProposalResponse {
            response,
            payload: Vec::new(),
            endorsement: None,
        })
    }

    /// Whether `creator` is a member of the peer's local MSP (`Err` says why not).
    fn local_member(
        &self,
        creator: &SerializedIdentity,
        now: i64,
    ) -> std::result::Result<(), String> {
        let lifecycle = self.lifecycle().ok_or_else(|| {
            "this peer has no local MSP configured; start the peer with its MSP folder".to_owned()
        })?;
        let msp = lifecycle.local_msp.id();
        lifecycle
            .local_msp
            .validate(creator, now)
            .map(drop)
            .map_err(|e| {
                format!(
                    "the creator (an identity of {}) is not a member of this peer's local MSP {msp}: {e}",
                    creator.msp_id
                )
            })
    }

    /// A channel-less `cscc` (`GetChannels`, `GetConfigBlock`) or `qscc` proposal (as
    /// `peer channel getinfo` sends it): the creator checked against the local MSP, then the
    /// function's own ACL; answered with a `Response` only.
    fn channel_less_query(
        &self,
        view: &ProposalView,
        now: i64,
    ) -> std::result::Result<ProposalResponse, Refusal> {
        let Some(lifecycle) = self.lifecycle() else {
            return Err(no_lifecycle());
        };
        let (creator, _) = validate_local_creator(view, &lifecycle.local_msp, true, now)?;
        let signed = SignedData {
            data: view.proposal_bytes.clone(),
            identity: creator,
            signature: view.signature.clone(),
        };
        let response = if view.chaincode_name.as_deref() == Some(qscc::QSCC) {
            self.query(view, &signed, now)
        } else {
            self.cscc_call(view, &signed, Ok(()), now)
        };
        Ok(ProposalResponse {
            response,
            payload: Vec::new(),
            endorsement: None,
        })
    }

    /// Runs a `cscc` query after its ACL; `member` says whether the creator is a member of
    /// the local MSP.
    fn cscc_call(
        &self,
        view: &ProposalView,
        signed: &SignedData,
        member: std::result::Result<(), String>,
        now: i64,
    ) -> ChaincodeResponse {
        let function = view
            .args
            .first()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .unwrap_or_default();
        match function.as_str() {
            cscc::GET_CHANNELS => match member {
                Ok(()) => cscc::channels(&self.channel_ids()),
                Err(e) => ChaincodeResponse::error(format!(
                    "access denied for [GetChannels]: {e}; sign with an identity of this peer's organisation"
                )),
            },
            cscc::GET_CONFIG_BLOCK => {
                let Some(target) = view.args.get(1).and_then(|a| std::str::from_utf8(a).ok())
                else {
                    return ChaincodeResponse::error(
                        "Incorrect number of arguments; GetConfigBlock takes the channel name",
                    );
                };
                let Some(channel) = self.channel(target) else {
                    return ChaincodeResponse::error(format!(
                        "Unknown chain ID, {target}; this peer has joined {:?}",
                        self.channel_ids()
                    ));
                };
                if let Err(e) = channel.config.evaluate(
                    cscc::GET_CONFIG_BLOCK_POLICY,
                    std::slice::from_ref(signed),
                    now,
                ) {
                    return ChaincodeResponse::error(format!(
                        "access denied for [GetConfigBlock][{target}]: [failed evaluating policy {}: {e}]",
                        cscc::GET_CONFIG_BLOCK_POLICY
                    ));
                }
                match channel.ledger.snapshot_view() {
                    Ok(snapshot) => cscc::config_block(snapshot.as_ref(), target),
                    Err(e) => ChaincodeResponse::error(format!(
                        "cannot read the ledger of channel '{target}': {e}"
                    )),
                }
            }
            other => ChaincodeResponse::error(format!(
                "Requested function {other} not found; cscc offers GetChannels and GetConfigBlock (Cambium peers join channels through their configuration)"
            )),
        }
    }

    /// A `_lifecycle` proposal on a channel: its ACL, then the function over a simulation of
    /// the snapshot; the read/write set goes into the proposal response like a contract's.
    fn lifecycle_call(
        &self,
        view: &ProposalView,
        channel: &EndorserChannel,
        shared_snapshot: Arc<dyn LedgerView>,
        creator: &SerializedIdentity,
        now: i64,
    ) -> std::result::Result<ProposalResponse, Refusal> {
        let snapshot = shared_snapshot.as_ref();
        let Some(lifecycle) = self.lifecycle() else {
            return Err(no_lifecycle());
        };
        let channel_id = channel.config.channel_id();
        let peer_msp = self.signer.msp_id();
        let mut rwset = TxRwSet::default();
        let mut migration_note = None;
        let response = match lifecycle_scc::split_args(&view.args) {
            Err(e) => lifecycle_scc::respond(LIFECYCLE, Err(e)),
            Ok((function, input)) => {
                // Approving for another org is refused by the rule itself, with its own message.
                let cross_org_approval =
                    function == lifecycle_scc::APPROVE && creator.msp_id != peer_msp;
                let acl = match lifecycle_scc::acl(function) {
                    _ if cross_org_approval => Ok(()),
                    None => Ok(()),
                    Some(Acl::LocalAdmins) => local_msp_identity(&lifecycle, creator, now)
                        .and_then(|identity| require_admin(&lifecycle, &identity, function)),
                    Some(Acl::ChannelAdmins) => {
                        channel_admin(view, channel, creator, function, now)
                    }
                    Some(Acl::ChannelWriters) => {
                        let signed = SignedData {
                            data: view.proposal_bytes.clone(),
                            identity: creator.clone(),
                            signature: view.signature.clone(),
                        };
                        channel
                            .config
                            .evaluate(lifecycle_scc::WRITERS_POLICY, &[signed], now)
                            .map_err(|e| {
                                format!(
                                    "Failed to authorize invocation due to failed ACL check: failed evaluating policy {} for _lifecycle/{function} on channel {channel_id}: {e}; sign with an identity of a channel member that satisfies Writers",
                                    lifecycle_scc::WRITERS_POLICY
                                )
                            })
                    }
                };
                match acl {
                    Err(message) => ChaincodeResponse::error(message),
                    Ok(()) => {
                        let mut orgs: Vec<String> = channel
                            .config
                            .application_orgs()
                            .into_iter()
                            .map(|o| o.msp_id)
                            .collect();
                        orgs.sort();
                        orgs.dedup();
                        let ctx = lifecycle_scc::ChannelContext {
                            channel_id,
                            orgs: &orgs,
                            peer_msp_id: peer_msp,
                            creator_msp_id: &creator.msp_id,
                            policies: channel.config.policy_group(),
                        };
                        let mut sim = LedgerSimulation::new(snapshot);
                        // With the channel's MSPs, so package signers are judged (roles,
                        // certificate chains) here as the validator will judge them.
                        let result = lifecycle_scc::invoke_channel_with_msps(
                            &ctx,
                            channel.config.msp_manager(),
                            now,
                            &mut sim,
                            lifecycle.packages.as_ref(),
                            &|id| self.package_references(id),
                            function,
                            input,
                        );
                        let result = match result {
                            Ok(payload) if function == lifecycle_scc::COMMIT => self
                                .migrate_on_commit(view, channel, &shared_snapshot, creator, input)
                                .map(|migrated| {
                                    if let Some(m) = migrated {
                                        rwset = m.rwset;
                                        migration_note = Some(m.note);
                                    }
                                    payload
                                }),
                            other => other,
                        };
                        if result.is_ok() && !sim.is_empty() {
                            rwset.ns.push(sim.into_ns_rwset());
                            rwset.sort();
                        }
                        lifecycle_scc::respond(function, result)
                    }
                }
            }
        };
        let mut endorsed = self.respond(view, response, &rwset, None, SYSTEM_CHAINCODE_VERSION)?;
        if let (Some(note), Some(_)) = (migration_note, &endorsed.endorsement) {
            // Only in the unsigned copy of the response: the endorsed payload, which every
            // endorser must agree on, keeps the lifecycle's own response.
            endorsed.response.message = note;
        }
        Ok(endorsed)
    }

    /// Atomic migration: when a commit replaces a definition and the package this peer's org
    /// approved for the new sequence exports `migrate`, runs it in the commit's simulation (same
    /// snapshot, same transaction) with the replaced version, and returns its read/write set,
    /// which goes into the commit's. A trap, fuel exhaustion, a contract error or a write
    /// outside the contract's own namespace fails the commit with the reason; nothing is
    /// endorsed then, so the old definition stays in force.
    fn migrate_on_commit(
        &self,
        view: &ProposalView,
        channel: &EndorserChannel,
        snapshot: &Arc<dyn LedgerView>,
        creator: &SerializedIdentity,
        input: &[u8],
    ) -> cambium_lifecycle::Result<Option<Migrated>> {
        use cambium_wire::Message;
        let failed = |why: String| LifecycleError::Refused(why);
        let args = cambium_wire::lifecycle::CommitChaincodeDefinitionArgs::decode(input)
            .map_err(|e| failed(format!("the commit arguments do not decode: {e}")))?;
        let name = args.name.as_str();
        let mut state = cambium_lifecycle::CommittedState(snapshot.as_ref());
        let Some(replaced) = cambium_lifecycle::committed_definition(&mut state, name)? else {
            return Ok(None);
        };
        let msp = self.signer.msp_id();
        let package = cambium_lifecycle::org_approval(&mut state, msp, name, args.sequence)?
            .and_then(|a| a.source.package_id().map(str::to_owned));
        let Some(contract) = package.and_then(|id| channel.contracts.package_contract(&id)) else {
            return Ok(None);
        };
        if !contract.has_migrate() {
            return Ok(None);
        }
        let from = replaced.version.as_str();
        let refuse = |why: String| {
            failed(format!(
                "the migration of '{name}' from version '{from}' to '{}' failed: {why}; the definition was not committed and version '{from}' stays in force: fix the package's migrate and approve a new package, or commit a definition without it",
                args.version
            ))
        };
        let timestamp = view
            .channel_header
            .timestamp
            .map(|t| Timestamp {
                seconds: t.seconds,
                nanos: t.nanos,
            })
            .unwrap_or_default();
        let call = Call {
            channel_id: view.channel_header.channel_id.clone(),
            tx_id: view.channel_header.tx_id.clone(),
            timestamp,
            contract: name.to_owned(),
            args: Vec::new(),
            creator: Creator {
                msp_id: creator.msp_id.clone(),
                cert: creator.id_bytes.clone(),
                attributes: BTreeMap::new(),
            },
            transient: BTreeMap::new(),
        };
        let resolver = Arc::new(RegistryResolver::new(
            Arc::clone(&channel.contracts),
            Arc::clone(snapshot),
            ProposalOrigin::default(),
        ));
        let env = Env::with_contracts(
            Arc::new(LedgerState::from_arc(Arc::clone(snapshot))),
            Arc::clone(&resolver) as Arc<dyn cambium_vm::ContractResolver>,
        );
        let outcome = self.vm.migrate(&contract, &call, from, &env);
        if let Some(refusal) = resolver.refusal() {
            return Err(refuse(format!("it called {refusal}")));
        }
        let outcome = outcome.map_err(|e| refuse(e.to_string()))?;
        if outcome.response.status >= STATUS_ERROR_THRESHOLD {
            return Err(refuse(format!(
                "migrate answered status {}: {}",
                outcome.response.status, outcome.response.message
            )));
        }
        let rwset = to_tx_rwset(&outcome.rwset);
        if let Some(foreign) = rwset
            .ns
            .iter()
            .find(|ns| ns.has_writes() && ns.namespace != name)
        {
            return Err(refuse(format!(
                "it wrote to namespace '{}', and a migration may write only its own contract's namespace '{name}'",
                foreign.namespace
            )));
        }
        // Keys read: point reads plus the keys the range scans returned.
        let scanned = |q: &RangeQueryInfo| match &q.reads {
            Some(RangeQueryReads::Raw(reads)) => reads.len(),
            _ => 0,
        };
        let keys_read: usize = rwset
            .ns
            .iter()
            .map(|ns| ns.reads.len() + ns.range_queries.iter().map(scanned).sum::<usize>())
            .sum();
        let written: usize = rwset.ns.iter().map(|ns| ns.writes.len()).sum();
        let note = format!(
            "migration of '{name}' from version '{from}': {keys_read} keys read, {written} written, {} of {} fuel",
            outcome.fuel_used,
            self.vm.migration_fuel()
        );
        Ok(Some(Migrated { rwset, note }))
    }

    /// The contracts on each joined channel whose committed definition this peer's org runs
    /// with `package_id`.
    fn package_references(
        &self,
        package_id: &str,
    ) -> cambium_lifecycle::Result<lifecycle_scc::References> {
        let channels: Vec<(String, EndorserChannel)> = self
            .channels
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(id, c)| (id.clone(), c.clone()))
            .collect();
        let msp = self.signer.msp_id();
        let mut out = lifecycle_scc::References::new();
        for (id, channel) in channels {
            let snapshot = channel.ledger.snapshot_view().map_err(|e| {
                LifecycleError::Storage(format!("cannot read the ledger of channel '{id}': {e}"))
            })?;
            let mut sim = LedgerSimulation::new(snapshot.as_ref());
            let mut found = Vec::new();
            for (name, definition) in cambium_lifecycle::committed_definitions(&mut sim)? {
                let approval =
                    cambium_lifecycle::org_approval(&mut sim, msp, &name, definition.sequence)?;
                if approval.is_some_and(|a| a.source.package_id() == Some(package_id)) {
                    found.push((name, definition.version));
                }
            }
            if !found.is_empty() {
                out.insert(id, found);
            }
        }
        Ok(out)
    }

    /// Runs a `qscc` query against the ledger of the channel it names, after its ACL.
    fn query(&self, view: &ProposalView, signed: &SignedData, now: i64) -> ChaincodeResponse {
        let function = view
            .args
            .first()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .unwrap_or_default();
        let Some(target) = qscc::target_channel(&view.args) else {
            return qscc::invoke_without_channel(&view.args);
        };
        let Some(channel) = self.channel(&target) else {
            return ChaincodeResponse::error(format!("Invalid chain ID, {target}"));
        };
        if let Err(e) =
            channel
                .config
                .evaluate(qscc::QSCC_POLICY, std::slice::from_ref(signed), now)
        {
            return ChaincodeResponse::error(format!(
                "access denied for [{function}][{target}]: [failed evaluating policy {}: {e}]",
                qscc::QSCC_POLICY
            ));
        }
        match channel.ledger.snapshot_view() {
            Ok(snapshot) => qscc::invoke(snapshot.as_ref(), &view.args),
            Err(e) => ChaincodeResponse::error(format!(
                "cannot read the ledger of channel '{target}': {e}"
            )),
        }
    }

    /// Builds the proposal response payload and, below status 400, endorses it; shapes the
    /// response by status as Fabric does.
    fn respond(
        &self,
        view: &ProposalView,
        response: ChaincodeResponse,
        rwset: &TxRwSet,
        event: Option<&ChaincodeEvent>,
        version: &str,
    ) -> std::result::Result<ProposalResponse, Refusal> {
        if (STATUS_ERROR_THRESHOLD..STATUS_ERROR).contains(&response.status) {
            return Ok(ProposalResponse {
                response,
                payload: Vec::new(),
                endorsement: None,
            });
        }
        let action = ChaincodeActionFields {
            results: encode_tx_rwset(rwset),
            events: event.map(encode_chaincode_event).unwrap_or_default(),
            response: Some(response.clone()),
            chaincode_id: Some(ChaincodeIdFields {
                name: view.chaincode_name.clone().unwrap_or_default(),
                version: version.to_owned(),
            }),
        };
        let prp = proposal_response_payload_bytes(&view.proposal_hash(), &action.encode());
        if response.status >= STATUS_ERROR {
            return Ok(ProposalResponse {
                response,
                payload: prp,
                endorsement: None,
            });
        }
        let signature = self
            .signer
            .sign(&endorsement_message(&prp, &self.endorser_bytes))
            .map_err(|e| Refusal::refused(format!("endorsing with plugin failed: {e}")))?;
        Ok(ProposalResponse {
            response,
            payload: prp,
            endorsement: Some(Endorsement {
                endorser: self.endorser_bytes.clone(),
                signature,
            }),
        })
    }
}

fn hex_string(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// Fabric's `UnpackProposal`: decoding, the chaincode name and the input.
fn unpack(bytes: &[u8]) -> std::result::Result<ProposalView, Refusal> {
    let view = parse_signed_proposal(bytes)
        .map_err(|e| Refusal::refused(format!("error unpacking proposal: {e}")))?;
    match view.chaincode_name.as_deref() {
        None => {
            return Err(Refusal::refused(
                "ChaincodeHeaderExtension.ChaincodeId is nil",
            ))
        }
        Some("") => {
            return Err(Refusal::refused(
                "ChaincodeHeaderExtension.ChaincodeId.Name is empty",
            ))
        }
        Some(_) => {}
    }
    if view.input_bytes.is_empty() {
        return Err(Refusal::refused(
            "chaincode invocation spec did not contain chaincode spec",
        ));
    }
    if view.args.is_empty() {
        return Err(Refusal::refused(
            "chaincode input did not contain any input",
        ));
    }
    Ok(view)
}

/// When the creator's certificate expired, if it has by `now`.
fn expired(view: &ProposalView, now: i64) -> Option<i64> {
    let creator = view.creator.as_ref()?;
    let cert =
        Certificate::from_pem(&creator.id_bytes, "the proposal creator's certificate").ok()?;
    (cert.not_after() < now).then_some(cert.not_after())
}

/// Fabric's `UnpackedProposal.Validate`; returns the creator and its validated identity.
fn validate(
    view: &ProposalView,
    config: &ChannelConfig,
    now: i64,
) -> std::result::Result<(SerializedIdentity, Identity), String> {
    let channel_id = config.channel_id();
    let is_cscc = view.chaincode_name.as_deref() == Some(cscc::CSCC);
    validate_header(view, is_cscc, |creator| {
        let denied = |reason: String| {
            format!(
                "access denied: channel [{channel_id}] creator org [{}]: {reason}",
                creator.msp_id
            )
        };
        let identity = config
            .msp_manager()
            .validate(creator, now)
            .map_err(|e| denied(e.to_string()))?;
        identity
            .verify(&view.proposal_bytes, &view.signature)
            .map_err(|e| denied(e.to_string()))?;
        Ok(identity)
    })
    .map_err(|e| {
        if e.starts_with("access denied: channel [] creator org unknown") {
            format!(
                "access denied: channel [{channel_id}] creator org unknown, creator is malformed"
            )
        } else {
            e
        }
    })
}

/// The header checks of Fabric's `Validate`, then `check_creator` (the creator valid in an
/// MSP and the signer of the proposal); returns the creator.
/// Header checks for a channel-less proposal, with the creator validated against the peer's
/// local MSP and its signature verified (Fabric's "access denied: channel []" refusals).
fn validate_local_creator(
    view: &ProposalView,
    msp: &Msp,
    allow_config: bool,
    now: i64,
) -> std::result::Result<(SerializedIdentity, Identity), Refusal> {
    validate_header(view, allow_config, |creator| {
        let denied = |reason: String| {
            format!(
                "access denied: channel [] creator org [{}]: {reason}",
                creator.msp_id
            )
        };
        let identity = msp
            .validate(creator, now)
            .map_err(|e| denied(e.to_string()))?;
        identity
            .verify(&view.proposal_bytes, &view.signature)
            .map_err(|e| denied(e.to_string()))?;
        Ok(identity)
    })
    .map_err(|m| Refusal::refused(format!("error validating proposal: {m}")))
}

fn validate_header(
    view: &ProposalView,
    allow_config: bool,
    check_creator: impl FnOnce(&SerializedIdentity) -> std::result::Result<Identity, String>,
) -> std::result::Result<(SerializedIdentity, Identity), String> {
    let header = &view.channel_header;
    let config_ok = allow_config && header.header_type == HeaderType::Config.as_i32();
    if header.header_type != HeaderType::EndorserTransaction.as_i32() && !config_ok {
        let name = header
            .known_header_type()
            .map_or_else(|| header.header_type.to_string(), |t| t.name().to_owned());
        return Err(format!(
            "invalid header type {name}; proposals must be ENDORSER_TRANSACTION"
        ));
    }
    if header.epoch != 0 {
        return Err(format!("epoch is non-zero (got {})", header.epoch));
    }
    if view.nonce.is_empty() {
        return Err("nonce is empty".to_owned());
    }
    if view.creator_bytes.is_empty() {
        return Err("creator is empty".to_owned());
    }
    let expected = view.expected_tx_id();
    if header.tx_id != expected {
        return Err(format!(
            "incorrectly computed txid '{}' -- expected '{expected}'",
            header.tx_id
        ));
    }
    if view.signature.is_empty() {
        return Err("empty signature bytes".to_owned());
    }
    let Some(creator) = view.creator.clone() else {
        return Err(
            "access denied: channel [] creator org unknown, creator is malformed".to_owned(),
        );
    };
    let identity = check_creator(&creator)?;
    Ok((creator, identity))
}

/// The name of the lifecycle system chaincode.
const LIFECYCLE: &str = cambium_lifecycle::NAMESPACE;

fn no_lifecycle() -> Refusal {
    Refusal::refused(
        "this peer does not serve _lifecycle: it has no package store; start the peer with a lifecycle configuration",
    )
}

/// The creator as an identity of the peer's local MSP.
fn local_msp_identity(
    lifecycle: &PeerLifecycle,
    creator: &SerializedIdentity,
    now: i64,
) -> std::result::Result<Identity, String> {
    let msp = lifecycle.local_msp.id();
    lifecycle.local_msp.validate(creator, now).map_err(|e| {
        format!(
            "Failed to authorize invocation due to failed ACL check: the creator (an identity of {}) is not valid in this peer's local MSP {msp}: {e}; sign with an admin identity of {msp}",
            creator.msp_id
        )
    })
}

fn require_admin(
    lifecycle: &PeerLifecycle,
    identity: &Identity,
    function: &str,
) -> std::result::Result<(), String> {
    let msp = lifecycle.local_msp.id();
    if identity.is_admin() {
        Ok(())
    } else {
        Err(format!(
            "Failed to authorize invocation due to failed ACL check: _lifecycle/{function} requires an admin of this peer's local MSP {msp}, and the creator is not an admin; sign with an admin identity of {msp}"
        ))
    }
}

/// The ACL of the rollout steps: the creator must be an admin of one of the channel's orgs;
/// an abort must also satisfy the channel's `RolloutAbort` policy over the creator's signature
/// (by default `ANY Admins`, which any such admin meets).
fn channel_admin(
    view: &ProposalView,
    channel: &EndorserChannel,
    creator: &SerializedIdentity,
    function: &str,
    now: i64,
) -> std::result::Result<(), String> {
    let channel_id = channel.config.channel_id();
    let identity = channel
        .config
        .msp_manager()
        .validate(creator, now)
        .map_err(|e| {
            format!(
                "Failed to authorize invocation due to failed ACL check: the creator (an identity of {}) is not valid on channel {channel_id}: {e}; sign with an admin identity of a channel org",
                creator.msp_id
            )
        })?;
    if !identity.is_admin() {
        return Err(format!(
            "Failed to authorize invocation due to failed ACL check: _lifecycle/{function} requires an admin of a channel org, and the creator (an identity of {}) is not an admin; sign with an admin identity of a channel org",
            creator.msp_id
        ));
    }
    if function == cambium_lifecycle::rollout::ABORT {
        let policy = format!(
            "/Channel/Application/{}",
            cambium_channel::spec::ROLLOUT_ABORT
        );
        let signed = SignedData {
            data: view.proposal_bytes.clone(),
            identity: creator.clone(),
            signature: view.signature.clone(),
        };
        channel.config.evaluate(&policy, &[signed], now).map_err(|e| {
            format!(
                "Failed to authorize invocation due to failed ACL check: _lifecycle/{function} requires the channel's RolloutAbort policy ({policy}), which the creator (an admin of {}) does not satisfy: {e}; sign with an identity the policy names",
                creator.msp_id
            )
        })?;
    }
    Ok(())
}

/// The refusal of a proposal to `name` when its committed governance status
/// (`cambium/status/<name>` in `_lifecycle`) is frozen or retired, naming the block that
/// changed it.
pub(crate) fn governance_refusal(
    snapshot: &dyn LedgerView,
    name: &str,
) -> std::result::Result<Option<String>, Refusal> {
    let key = cambium_lifecycle::governance::status_key(name);
    let stored = snapshot.get_state(LIFECYCLE, &key).map_err(|e| {
        Refusal::refused(format!(
            "error in simulation: reading the status of contract {name} failed: {e}; check the peer's ledger"
        ))
    })?;
    let Some(stored) = stored else {
        return Ok(None);
    };
    let status = cambium_lifecycle::governance::decode_status(&stored.value)
        .map_err(|e| Refusal::refused(format!("error in simulation: {e}")))?;
    Ok(cambium_lifecycle::governance::refusal(
        name,
        Some(&status),
        stored.version.block_num,
    ))
}

/// The key under which Fabric records that a contract's init ran, in the contract's own
/// namespace: `\0` + U+10FFFF + `initialized`. Its value is the definition's version.
pub const INITIALIZED_KEY: &str = "\u{0}\u{10FFFF}initialized";

/// What the init check read, to add to the simulation's read/write set.
struct InitCheck {
    read: Option<cambium_primitives::Version>,
    is_init: bool,
}

impl InitCheck {
    fn record(self, rwset: &mut TxRwSet, namespace: &str, version: &str) {
        let index = match rwset.ns.iter().position(|ns| ns.namespace == namespace) {
            Some(i) => i,
            None => {
                rwset.ns.push(NsRwSet::new(namespace));
                rwset.ns.len() - 1
            }
        };
        let ns = &mut rwset.ns[index];
        if !ns.reads.iter().any(|r| r.key == INITIALIZED_KEY) {
            ns.reads.push(KvRead {
                key: INITIALIZED_KEY.to_owned(),
                version: self.read,
            });
        }
        if self.is_init {
            ns.writes.retain(|w| w.key != INITIALIZED_KEY);
            ns.writes.push(KvWrite {
                key: INITIALIZED_KEY.to_owned(),
                is_delete: false,
                value: version.as_bytes().to_vec(),
            });
        }
        rwset.sort();
    }
}

/// Fabric's init rule for a definition with `init_required`: the first invoke must be the
/// init call (`ChaincodeInput.is_init`), and the init call runs once per version.
fn check_init(
    view: &ProposalView,
    snapshot: &dyn LedgerView,
    name: &str,
    version: &str,
) -> std::result::Result<InitCheck, Refusal> {
    let current = snapshot.get_state(name, INITIALIZED_KEY).map_err(|e| {
        Refusal::refused(format!(
            "error in simulation: cannot read the init marker of '{name}': {e}"
        ))
    })?;
    let initialized = current
        .as_ref()
        .is_some_and(|v| v.value == version.as_bytes());
    if view.is_init && initialized {
        return Err(Refusal::refused(format!(
            "error in simulation: chaincode '{name}' is already initialized but called as init; invoke it without --isInit"
        )));
    }
    if !view.is_init && !initialized {
        return Err(Refusal::refused(format!(
            "error in simulation: chaincode '{name}' has not been initialized for this version, must call as init first (invoke with --isInit)"
        )));
    }
    Ok(InitCheck {
        read: current.map(|v| v.version),
        is_init: view.is_init,
    })
}
