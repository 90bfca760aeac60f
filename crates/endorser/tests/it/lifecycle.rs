//! `_lifecycle` end to end: two organisations, each with its own peer (endorser, ledger on
//! disk, package directory), proposals signed by real admins and clients, blocks built from
//! the endorsed transactions, validated on each peer with `validate_block` and
//! `LifecyclePolicies` over that peer's committed state, and committed to both ledgers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use cambium_endorser::{
    ContractRegistry, DirPackageStore, Endorser, EndorserChannel, LifecycleRegistry, LookupError,
    PeerLifecycle, ProposalResponse,
};
use cambium_ledger::{Block, BlockReader, BlockWriter, Ledger, SnapshotSource};
use cambium_lifecycle::PackageStore;
use cambium_msp::SigningIdentity;
use cambium_primitives::{Timestamp, TxValidationCode as Code};
use cambium_validator::{validate_block, LifecyclePolicies, ValidationOptions};
use cambium_vm::package::write_package;
use cambium_vm::Vm;
use cambium_wire::lifecycle as lc;
use cambium_wire::tx::{build_proposal, endorsement_message, signed_proposal_bytes, ProposalParts};
use cambium_wire::{encode_serialized_identity, peer, Message};

use crate::support::{net, transaction, CHANNEL};

pub(crate) const LIFECYCLE: &str = "_lifecycle";

static NONCE: AtomicU64 = AtomicU64::new(1);

/// A fresh 24-byte nonce, so every proposal has its own transaction ID.
fn nonce() -> Vec<u8> {
    let n = NONCE.fetch_add(1, Ordering::SeqCst);
    let mut nonce = vec![0x5a; 24];
    nonce[..8].copy_from_slice(&n.to_be_bytes());
    nonce
}

/// When certificates are checked: an hour into their validity.
pub(crate) fn now() -> i64 {
    net().org1_client.certificate().not_before() + 3600
}

/// Sets `ChaincodeInput.is_init` in a proposal (the peer CLI's `--isInit`).
fn mark_init(proposal_bytes: &[u8]) -> Vec<u8> {
    let mut proposal = peer::Proposal::decode(proposal_bytes).expect("proposal");
    let mut payload =
        peer::ChaincodeProposalPayload::decode(proposal.payload.as_slice()).expect("payload");
    let mut spec = peer::ChaincodeInvocationSpec::decode(payload.input.as_slice()).expect("spec");
    spec.chaincode_spec
        .as_mut()
        .and_then(|s| s.input.as_mut())
        .expect("input")
        .is_init = true;
    payload.input = spec.encode_to_vec();
    proposal.payload = payload.encode_to_vec();
    proposal.encode_to_vec()
}

pub(crate) fn signed_proposal(
    signer: &SigningIdentity,
    channel: &str,
    chaincode: &str,
    args: Vec<Vec<u8>>,
    is_init: bool,
) -> Vec<u8> {
    let parts = ProposalParts {
        channel_id: channel.to_owned(),
        chaincode_name: chaincode.to_owned(),
        args,
        transient: Default::default(),
        creator: encode_serialized_identity(&signer.serialized()),
        nonce: nonce(),
        timestamp: Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        },
    };
    let mut proposal_bytes = build_proposal(&parts).proposal_bytes;
    if is_init {
        proposal_bytes = mark_init(&proposal_bytes);
    }
    let signature = signer.sign(&proposal_bytes).expect("sign");
    signed_proposal_bytes(&proposal_bytes, &signature)
}

/// One organisation's peer.
pub(crate) struct OrgPeer {
    endorser: Endorser,
    pub(crate) ledger: Arc<Ledger>,
    store: Arc<DirPackageStore>,
}

/// Two organisations with a peer each.
pub(crate) struct Network {
    dir: tempfile::TempDir,
    pub(crate) orgs: Vec<OrgPeer>,
}

/// The parameters of an approve, readiness check or commit.
#[derive(Clone)]
pub(crate) struct Def {
    name: &'static str,
    sequence: i64,
    version: &'static str,
    policy: Vec<u8>,
    init_required: bool,
    /// Cambium's rollout plan, sent as extension field 1001.
    rollout: Option<cambium_lifecycle::RolloutPlan>,
    /// Cambium's upgrade policy, sent as extension field 1002.
    upgrade_policy: Option<&'static str>,
}

/// Appends the rollout plan of `def`, if any, to encoded arguments.
fn with_plan(def: &Def, mut args: Vec<u8>) -> Vec<u8> {
    if let Some(plan) = &def.rollout {
        cambium_lifecycle::rollout::append_plan(plan, &mut args);
    }
    if let Some(policy) = def.upgrade_policy {
        cambium_lifecycle::upgrade_policy::append(policy, &mut args);
    }
    args
}

impl Def {
    pub(crate) fn new(name: &'static str, sequence: i64, version: &'static str) -> Def {
        Def {
            name,
            sequence,
            version,
            policy: Vec::new(),
            init_required: false,
            rollout: None,
            upgrade_policy: None,
        }
    }

    /// The same definition carrying an upgrade policy.
    pub(crate) fn with_upgrade_policy(mut self, policy: &'static str) -> Def {
        self.upgrade_policy = Some(policy);
        self
    }

    /// The same definition carrying a rollout plan.
    pub(crate) fn with_rollout(mut self, plan: cambium_lifecycle::RolloutPlan) -> Def {
        self.rollout = Some(plan);
        self
    }

    pub(crate) fn with_policy(mut self, dsl: &str) -> Def {
        let env = cambium_msp::policy::parse(dsl).expect("policy parses");
        self.policy = cambium_lifecycle::ApplicationPolicy::Signature(env).encode();
        self
    }

    pub(crate) fn approve(&self, package: Option<&str>) -> Vec<u8> {
        let args = lc::ApproveChaincodeDefinitionForMyOrgArgs {
            sequence: self.sequence,
            name: self.name.into(),
            version: self.version.into(),
            validation_parameter: self.policy.clone(),
            init_required: self.init_required,
            source: Some(
                match package {
                    Some(id) => cambium_lifecycle::PackageSource::Local(id.into()),
                    None => cambium_lifecycle::PackageSource::Unavailable,
                }
                .to_wire(),
            ),
            ..Default::default()
        }
        .encode_to_vec();
        with_plan(self, args)
    }

    pub(crate) fn commit(&self) -> Vec<u8> {
        let args = lc::CommitChaincodeDefinitionArgs {
            sequence: self.sequence,
            name: self.name.into(),
            version: self.version.into(),
            validation_parameter: self.policy.clone(),
            init_required: self.init_required,
            ..Default::default()
        }
        .encode_to_vec();
        with_plan(self, args)
    }

    pub(crate) fn readiness(&self) -> Vec<u8> {
        let args = lc::CheckCommitReadinessArgs {
            sequence: self.sequence,
            name: self.name.into(),
            version: self.version.into(),
            validation_parameter: self.policy.clone(),
            init_required: self.init_required,
            ..Default::default()
        }
        .encode_to_vec();
        with_plan(self, args)
    }
}

pub(crate) fn package(wasm: &[u8], label: &str) -> Vec<u8> {
    write_package(wasm, label).expect("package written")
}

fn peer_of(dir: &std::path::Path, org: usize, vm: Arc<Vm>) -> OrgPeer {
    let n = net();
    let (msp_id, signer, local) = if org == 0 {
        ("Org1MSP", &n.org1_peer, &n.org1_msp)
    } else {
        ("Org2MSP", &n.org2_peer, &n.org2_msp)
    };
    let home = dir.join(msp_id);
    let ledger = Arc::new(Ledger::open(home.join("ledger")).expect("ledger opens"));
    let store =
        Arc::new(DirPackageStore::open(home.join("packages"), Arc::clone(&vm)).expect("store"));
    let endorser = Endorser::new(vm, Arc::clone(signer));
    endorser.add_channel(EndorserChannel {
        config: Arc::clone(&n.config),
        ledger: Arc::clone(&ledger) as _,
        contracts: Arc::new(LifecycleRegistry::new(msp_id, Arc::clone(&store))),
    });
    endorser.set_lifecycle(PeerLifecycle {
        local_msp: Arc::clone(local),
        packages: Arc::clone(&store) as Arc<dyn PackageStore>,
    });
    OrgPeer {
        endorser,
        ledger,
        store,
    }
}

impl Network {
    pub(crate) fn new() -> Network {
        let dir = tempfile::tempdir().expect("temp dir");
        let orgs = (0..2)
            .map(|i| peer_of(dir.path(), i, Arc::clone(&net().vm)))
            .collect();
        Network { dir, orgs }
    }

    pub(crate) fn admin(&self, org: usize) -> &'static SigningIdentity {
        if org == 0 {
            &net().org1_admin
        } else {
            &net().org2_admin
        }
    }

    pub(crate) fn client(&self, org: usize) -> &'static SigningIdentity {
        if org == 0 {
            &net().org1_client
        } else {
            &net().org2_client
        }
    }

    /// Sends a proposal to org `org`'s peer.
    pub(crate) fn send(&self, org: usize, proposal: &[u8]) -> ProposalResponse {
        self.orgs[org]
            .endorser
            .process_proposal_at(proposal, now())
            .expect("processed")
    }

    /// A channel-less `_lifecycle` call by `signer` to org `org`'s peer.
    fn local(
        &self,
        org: usize,
        signer: &SigningIdentity,
        function: &str,
        args: Vec<u8>,
    ) -> ProposalResponse {
        let proposal = signed_proposal(
            signer,
            "",
            LIFECYCLE,
            vec![function.as_bytes().to_vec(), args],
            false,
        );
        self.send(org, &proposal)
    }

    /// Installs `package` on org `org`'s peer as its admin; returns the package ID.
    pub(crate) fn install(&self, org: usize, package: &[u8]) -> String {
        let args = lc::InstallChaincodeArgs {
            chaincode_install_package: package.to_vec(),
        };
        let response = self.local(
            org,
            self.admin(org),
            "InstallChaincode",
            args.encode_to_vec(),
        );
        assert_eq!(
            response.response.status, 200,
            "{}",
            response.response.message
        );
        assert!(response.payload.is_empty() && response.endorsement.is_none());
        lc::InstallChaincodeResult::decode(response.response.payload.as_slice())
            .expect("install result")
            .package_id
    }

    /// A `_lifecycle` call on the channel by `signer`, sent to the peers `orgs`; returns the
    /// proposal and the responses.
    pub(crate) fn lifecycle(
        &self,
        orgs: &[usize],
        signer: &SigningIdentity,
        function: &str,
        args: Vec<u8>,
    ) -> (Vec<u8>, Vec<ProposalResponse>) {
        let proposal = signed_proposal(
            signer,
            CHANNEL,
            LIFECYCLE,
            vec![function.as_bytes().to_vec(), args],
            false,
        );
        let responses = orgs.iter().map(|o| self.send(*o, &proposal)).collect();
        (proposal, responses)
    }

    /// An endorsed transaction from `responses`, signed by `signer`.
    pub(crate) fn envelope(
        signer: &SigningIdentity,
        proposal: &[u8],
        responses: &[ProposalResponse],
    ) -> Vec<u8> {
        for r in responses {
            assert_eq!(r.response.status, 200, "{}", r.response.message);
        }
        let refs: Vec<&ProposalResponse> = responses.iter().collect();
        transaction(signer, proposal, &refs)
    }

    /// Org `org`'s admin approves `def` with `package` on its own peer; returns the
    /// transaction.
    pub(crate) fn approve_tx(&self, org: usize, def: &Def, package: Option<&str>) -> Vec<u8> {
        let admin = self.admin(org);
        let (proposal, responses) = self.lifecycle(
            &[org],
            admin,
            "ApproveChaincodeDefinitionForMyOrg",
            def.approve(package),
        );
        Self::envelope(admin, &proposal, &responses)
    }

    /// Approves and commits the approval in its own block.
    pub(crate) fn approve(&self, org: usize, def: &Def, package: Option<&str>) {
        let tx = self.approve_tx(org, def, package);
        assert_eq!(self.submit(vec![tx]), [Code::Valid]);
    }

    /// Commits `def`, endorsed by the peers of `orgs`; returns the transaction's code.
    pub(crate) fn commit(&self, orgs: &[usize], def: &Def) -> Code {
        let admin = self.admin(0);
        let (proposal, responses) =
            self.lifecycle(orgs, admin, "CommitChaincodeDefinition", def.commit());
        let tx = Self::envelope(admin, &proposal, &responses);
        self.submit(vec![tx])[0]
    }

    /// Invokes `name` endorsed by both peers and commits it; returns the code and the
    /// response payload.
    pub(crate) fn invoke(&self, name: &str, args: &[&str], is_init: bool) -> (Code, Vec<u8>) {
        let client = self.client(0);
        let proposal = signed_proposal(
            client,
            CHANNEL,
            name,
            args.iter().map(|a| a.as_bytes().to_vec()).collect(),
            is_init,
        );
        let responses: Vec<ProposalResponse> = (0..2).map(|o| self.send(o, &proposal)).collect();
        let tx = Self::envelope(client, &proposal, &responses);
        let payload = responses[0].response.payload.clone();
        (self.submit(vec![tx])[0], payload)
    }

    /// Validates a block of `envelopes` on each peer against its own committed state and
    /// commits it there; both peers must agree on every code.
    pub(crate) fn submit(&self, envelopes: Vec<Vec<u8>>) -> Vec<Code> {
        let mut agreed: Option<Vec<Code>> = None;
        for org in &self.orgs {
            let snapshot = org.ledger.snapshot().expect("snapshot");
            let number = snapshot.height().expect("height");
            let previous = match number.checked_sub(1) {
                None => Vec::new(),
                Some(last) => snapshot
                    .block(last)
                    .expect("read")
                    .expect("previous block")
                    .hash
                    .to_vec(),
            };
            let block = Block::new(number, previous, envelopes.clone());
            let policies = LifecyclePolicies::new(&snapshot);
            let validation = validate_block(
                &block,
                net().config.as_ref(),
                &policies,
                &snapshot,
                &ValidationOptions::at(now()),
            )
            .expect("block validates");
            for tx in &validation.transactions {
                if let Some(reason) = &tx.reason {
                    eprintln!("tx {}: {:?}: {reason}", tx.index, tx.code);
                }
            }
            let codes = validation.codes();
            if let Some(previous) = &agreed {
                assert_eq!(previous, &codes, "the peers disagree");
            }
            agreed = Some(codes);
            org.ledger
                .commit_block(&validation.into_commit(block))
                .expect("block commits");
        }
        agreed.expect("two peers")
    }

    /// The last validation reason for a single-transaction block of `envelope` (not
    /// committed).
    pub(crate) fn reason(&self, envelope: Vec<u8>) -> (Code, String) {
        let org = &self.orgs[0];
        let snapshot = org.ledger.snapshot().expect("snapshot");
        let number = snapshot.height().expect("height");
        let previous = snapshot
            .block(number - 1)
            .expect("read")
            .expect("previous block")
            .hash
            .to_vec();
        let block = Block::new(number, previous, vec![envelope]);
        let policies = LifecyclePolicies::new(&snapshot);
        let validation = validate_block(
            &block,
            net().config.as_ref(),
            &policies,
            &snapshot,
            &ValidationOptions::at(now()),
        )
        .expect("block validates");
        let tx = &validation.transactions[0];
        (tx.code, tx.reason.clone().unwrap_or_default())
    }

    pub(crate) fn query<M: Message + Default>(
        &self,
        org: usize,
        function: &str,
        args: Vec<u8>,
    ) -> M {
        let (_, responses) = self.lifecycle(&[org], self.client(org), function, args);
        let r = &responses[0];
        assert_eq!(r.response.status, 200, "{}", r.response.message);
        M::decode(r.response.payload.as_slice()).expect("result decodes")
    }

    pub(crate) fn query_admin<M: Message + Default>(
        &self,
        org: usize,
        function: &str,
        args: Vec<u8>,
    ) -> M {
        let (_, responses) = self.lifecycle(&[org], self.admin(org), function, args);
        let r = &responses[0];
        assert_eq!(r.response.status, 200, "{}", r.response.message);
        M::decode(r.response.payload.as_slice()).expect("result decodes")
    }
}

pub(crate) fn deployed_kv() -> (Network, String) {
    let network = Network::new();
    let pkg = package(&net().kv_wasm, "kv_1");
    let id1 = network.install(0, &pkg);
    let id2 = network.install(1, &pkg);
    assert_eq!(id1, id2);
    let def = Def::new("kv", 1, "1.0");
    network.approve(0, &def, Some(&id1));
    network.approve(1, &def, Some(&id2));
    assert_eq!(network.commit(&[0, 1], &def), Code::Valid);
    (network, id1)
}

#[test]
fn install_approve_commit_and_invoke() {
    let network = Network::new();
    let pkg = package(&net().asset_transfer_wasm, "basic_1.0");
    let id = network.install(0, &pkg);
    assert!(
        id.starts_with("basic_1.0:") && id.len() == "basic_1.0:".len() + 64,
        "{id}"
    );
    assert_eq!(network.install(1, &pkg), id);

    // Installed-package queries, channel-less, as the peer CLI sends them.
    let r = network.local(
        0,
        network.admin(0),
        "QueryInstalledChaincodes",
        lc::QueryInstalledChaincodesArgs {}.encode_to_vec(),
    );
    let all = lc::QueryInstalledChaincodesResult::decode(r.response.payload.as_slice()).unwrap();
    assert_eq!(all.installed_chaincodes.len(), 1);
    assert_eq!(all.installed_chaincodes[0].label, "basic_1.0");
    let r = network.local(
        0,
        network.admin(0),
        "GetInstalledChaincodePackage",
        lc::GetInstalledChaincodePackageArgs {
            package_id: id.clone(),
        }
        .encode_to_vec(),
    );
    let got =
        lc::GetInstalledChaincodePackageResult::decode(r.response.payload.as_slice()).unwrap();
    assert_eq!(got.chaincode_install_package, pkg);
    let r = network.local(
        0,
        network.admin(0),
        "QueryInstalledChaincode",
        lc::QueryInstalledChaincodeArgs {
            package_id: "missing:00".into(),
        }
        .encode_to_vec(),
    );
    assert_eq!(r.response.status, 404, "{}", r.response.message);

    // Not defined yet: invoking fails in simulation.
    let early = signed_proposal(
        network.client(0),
        CHANNEL,
        "basic",
        vec![b"ReadAsset".to_vec(), b"a".to_vec()],
        false,
    );
    let r = network.send(0, &early);
    assert!(
        r.response
            .message
            .contains("chaincode definition for 'basic' not found"),
        "{}",
        r.response.message
    );

    let def = Def::new("basic", 1, "1.0").with_policy("AND('Org1MSP.peer', 'Org2MSP.peer')");
    network.approve(0, &def, Some(&id));
    let ready: lc::CheckCommitReadinessResult =
        network.query(0, "CheckCommitReadiness", def.readiness());
    assert_eq!(ready.approvals.get("Org1MSP"), Some(&true));
    assert_eq!(ready.approvals.get("Org2MSP"), Some(&false));
    network.approve(1, &def, Some(&id));
    let ready: lc::CheckCommitReadinessResult =
        network.query(1, "CheckCommitReadiness", def.readiness());
    assert!(ready.approvals.values().all(|a| *a), "{ready:?}");

    assert_eq!(network.commit(&[0, 1], &def), Code::Valid);
    let committed: lc::QueryChaincodeDefinitionResult = network.query(
        1,
        "QueryChaincodeDefinition",
        lc::QueryChaincodeDefinitionArgs {
            name: "basic".into(),
        }
        .encode_to_vec(),
    );
    assert_eq!((committed.sequence, committed.version.as_str()), (1, "1.0"));
    assert_eq!(committed.validation_parameter, def.policy);
    assert!(committed.approvals.values().all(|a| *a));
    let all: lc::QueryChaincodeDefinitionsResult = network.query(
        0,
        "QueryChaincodeDefinitions",
        lc::QueryChaincodeDefinitionsArgs {}.encode_to_vec(),
    );
    assert_eq!(all.chaincode_definitions.len(), 1);
    let approved: lc::QueryApprovedChaincodeDefinitionResult = network.query_admin(
        1,
        "QueryApprovedChaincodeDefinition",
        lc::QueryApprovedChaincodeDefinitionArgs {
            name: "basic".into(),
            sequence: 1,
        }
        .encode_to_vec(),
    );
    assert_eq!(
        cambium_lifecycle::PackageSource::from_wire(approved.source.as_ref()),
        cambium_lifecycle::PackageSource::Local(id.clone())
    );

    let (code, _) = network.invoke(
        "basic",
        &["CreateAsset", "asset1", "blue", "5", "Tom", "300"],
        false,
    );
    assert_eq!(code, Code::Valid);
    let (code, payload) = network.invoke("basic", &["ReadAsset", "asset1"], false);
    assert_eq!(code, Code::Valid);
    assert!(String::from_utf8_lossy(&payload).contains("asset1"));

    // The package now shows the chaincode that uses it.
    let r = network.local(
        1,
        network.admin(1),
        "QueryInstalledChaincode",
        lc::QueryInstalledChaincodeArgs {
            package_id: id.clone(),
        }
        .encode_to_vec(),
    );
    let q = lc::QueryInstalledChaincodeResult::decode(r.response.payload.as_slice()).unwrap();
    let refs = &q.references[CHANNEL].chaincodes;
    assert_eq!(
        (refs[0].name.as_str(), refs[0].version.as_str()),
        ("basic", "1.0")
    );

    // A restarted peer loads its packages again (from the VM's compiled cache when it has one).
    let dir = network.dir.path().join("Org1MSP").join("packages");
    let reopened = DirPackageStore::open(&dir, Arc::clone(&net().vm)).expect("reopens");
    assert_eq!(reopened.installed().unwrap().len(), 1);
    assert!(reopened.contract(&id).is_some());
    assert!(network.orgs[0].store.contract(&id).is_some());
}

#[test]
fn bad_inputs_are_refused_with_fabric_codes_and_what_to_do() {
    let (network, id) = deployed_kv();
    let pkg = package(&net().asset_transfer_wasm, "basic_1");

    // A non-admin installing.
    let r = network.local(
        0,
        network.client(0),
        "InstallChaincode",
        lc::InstallChaincodeArgs {
            chaincode_install_package: pkg.clone(),
        }
        .encode_to_vec(),
    );
    assert_eq!(r.response.status, 500);
    assert!(
        r.response
            .message
            .contains("requires an admin of this peer's local MSP Org1MSP"),
        "{}",
        r.response.message
    );
    // An admin of another org installing on this peer.
    let r = network.local(
        0,
        network.admin(1),
        "InstallChaincode",
        lc::InstallChaincodeArgs {
            chaincode_install_package: pkg.clone(),
        }
        .encode_to_vec(),
    );
    assert_eq!(r.response.status, 500, "{}", r.response.message);
    // Installing something that is not a package.
    let r = network.local(
        0,
        network.admin(0),
        "InstallChaincode",
        lc::InstallChaincodeArgs {
            chaincode_install_package: b"not a package".to_vec(),
        }
        .encode_to_vec(),
    );
    assert_eq!(r.response.status, 500);
    assert!(
        r.response.message.contains("failed to install chaincode"),
        "{}",
        r.response.message
    );

    // Approving for another org: Org2's admin at Org1's peer.
    let def2 = Def::new("kv", 2, "2.0");
    let (_, responses) = network.lifecycle(
        &[0],
        network.admin(1),
        "ApproveChaincodeDefinitionForMyOrg",
        def2.approve(Some(&id)),
    );
    let r = &responses[0];
    assert_eq!(r.response.status, 500);
    assert!(r.endorsement.is_none());
    assert!(
        r.response
            .message
            .contains("cannot approve for another org"),
        "{}",
        r.response.message
    );
    // A client (not an admin) approving.
    let (_, responses) = network.lifecycle(
        &[0],
        network.client(0),
        "ApproveChaincodeDefinitionForMyOrg",
        def2.approve(Some(&id)),
    );
    assert!(
        responses[0].response.message.contains("requires an admin"),
        "{}",
        responses[0].response.message
    );

    // Approving and committing a sequence that skips one.
    let def3 = Def::new("kv", 3, "3.0");
    let (_, responses) = network.lifecycle(
        &[0],
        network.admin(0),
        "ApproveChaincodeDefinitionForMyOrg",
        def3.approve(Some(&id)),
    );
    assert_eq!(
        responses[0].response.message,
        "failed to invoke backing implementation of 'ApproveChaincodeDefinitionForMyOrg': requested sequence is 3, but new definition must be sequence 2; 'kv' is committed at sequence 1; approve sequence 2 for a new definition, or 1 to approve the current one"
    );
    let (_, responses) = network.lifecycle(
        &[0, 1],
        network.admin(0),
        "CommitChaincodeDefinition",
        def3.commit(),
    );
    for r in &responses {
        assert_eq!(r.response.status, 500);
        assert!(r.response.message.contains("requested sequence is 3, but new definition must be sequence 2; commit sequence 2 of 'kv'"), "{}", r.response.message);
    }

    // Ready at commit: only Org1 approved sequence 2 (with its package), so the orgs ready to
    // endorse it cannot satisfy its policy (MAJORITY Endorsement of two orgs): both peers
    // refuse, naming the org that is not ready and the policy.
    network.approve(0, &def2, Some(&id));
    let (_, responses) = network.lifecycle(
        &[0, 1],
        network.admin(0),
        "CommitChaincodeDefinition",
        def2.commit(),
    );
    assert_eq!(responses[0].response.status, 500);
    assert!(
        responses[0].response.message.contains(
            "the orgs ready to endorse it (Org1MSP) cannot satisfy its endorsement policy (channel policy /Channel/Application/Endorsement); not ready: Org2MSP (has not approved these parameters)"
        ),
        "{}",
        responses[0].response.message
    );

    // Committing without enough approvals: Org1 approved a sequence 2 that Org1 alone can
    // endorse, so Org1's peer endorses the commit, Org2's peer refuses, and Org1's endorsement
    // alone does not satisfy LifecycleEndorsement.
    let def2_org1 = Def::new("kv", 2, "2.0").with_policy("OR('Org1MSP.peer')");
    network.approve(0, &def2_org1, Some(&id));
    let (proposal, responses) = network.lifecycle(
        &[0, 1],
        network.admin(0),
        "CommitChaincodeDefinition",
        def2_org1.commit(),
    );
    assert_eq!(
        responses[0].response.status, 200,
        "{}",
        responses[0].response.message
    );
    assert_eq!(responses[1].response.status, 500);
    assert!(
        responses[1]
            .response
            .message
            .contains("chaincode definition not agreed to by this org (Org2MSP)"),
        "{}",
        responses[1].response.message
    );
    let only_org1 = Network::envelope(network.admin(0), &proposal, &responses[..1]);
    let (code, reason) = network.reason(only_org1.clone());
    assert_eq!(code, Code::EndorsementPolicyFailure);
    assert!(
        reason.contains("/Channel/Application/LifecycleEndorsement"),
        "{reason}"
    );
    assert_eq!(
        network.submit(vec![only_org1]),
        [Code::EndorsementPolicyFailure]
    );

    // An invoke endorsed by one org where the definition's policy needs both.
    let proposal = signed_proposal(
        network.client(0),
        CHANNEL,
        "kv",
        vec![b"put".to_vec(), b"k".to_vec(), b"v".to_vec()],
        false,
    );
    let response = network.send(0, &proposal);
    let tx = Network::envelope(network.client(0), &proposal, &[response]);
    let (code, reason) = network.reason(tx);
    assert_eq!(code, Code::EndorsementPolicyFailure);
    assert!(
        reason.contains("/Channel/Application/Endorsement"),
        "{reason}"
    );

    // An approval endorsed by the wrong org's peer: Org2's peer refuses to approve for Org1,
    // but even if it signed Org1's approval (a colluding peer), the validator requires the
    // approving org's own peer.
    let (proposal, responses) = network.lifecycle(
        &[0],
        network.admin(0),
        "ApproveChaincodeDefinitionForMyOrg",
        Def::new("kv", 2, "2.1").approve(Some(&id)),
    );
    let org2_peer = &net().org2_peer;
    let endorser = encode_serialized_identity(&org2_peer.serialized());
    let mut forged = responses[0].clone();
    forged.endorsement = Some(cambium_primitives::Endorsement {
        signature: org2_peer
            .sign(&endorsement_message(&forged.payload, &endorser))
            .expect("sign"),
        endorser,
    });
    let tx = Network::envelope(network.admin(0), &proposal, &[forged]);
    let (code, reason) = network.reason(tx);
    assert_eq!(code, Code::EndorsementPolicyFailure);
    assert!(reason.contains("the approval of Org1MSP"), "{reason}");
    assert!(reason.contains("Org1MSP.peer"), "{reason}");

    // Collections are refused with a clear message.
    let mut with_collections = lc::ApproveChaincodeDefinitionForMyOrgArgs::decode(
        Def::new("kv", 2, "2.0").approve(None).as_slice(),
    )
    .unwrap();
    with_collections.collections = Some(peer::CollectionConfigPackage {
        config: vec![Default::default()],
    });
    let (_, responses) = network.lifecycle(
        &[0],
        network.admin(0),
        "ApproveChaincodeDefinitionForMyOrg",
        with_collections.encode_to_vec(),
    );
    assert!(
        responses[0]
            .response
            .message
            .contains("private data collections"),
        "{}",
        responses[0].response.message
    );

    // Querying an undefined name is a 404.
    let (_, responses) = network.lifecycle(
        &[0],
        network.client(0),
        "QueryChaincodeDefinition",
        lc::QueryChaincodeDefinitionArgs {
            name: "nope".into(),
        }
        .encode_to_vec(),
    );
    assert_eq!(responses[0].response.status, 404);
    assert!(responses[0].payload.is_empty() && responses[0].endorsement.is_none());
}

#[test]
fn policy_only_upgrade_and_an_org_that_installs_late() {
    let network = Network::new();
    let pkg = package(&net().kv_wasm, "kv_1");
    let id = network.install(0, &pkg);
    // Org2 approves without installing anything; Org1 alone can endorse the definition, so
    // the commit is ready without Org2.
    let def = Def::new("kv", 1, "1.0").with_policy("OR('Org1MSP.peer')");
    network.approve(0, &def, Some(&id));
    network.approve(1, &def, None);
    assert_eq!(network.commit(&[0, 1], &def), Code::Valid);
    // Org2's peer cannot run the contract yet, and says why.
    let proposal = signed_proposal(
        network.client(0),
        CHANNEL,
        "kv",
        vec![b"put".to_vec(), b"a".to_vec(), b"1".to_vec()],
        false,
    );
    let r = network.send(1, &proposal);
    assert!(
        r.response
            .message
            .contains("approved sequence 1 without a package"),
        "{}",
        r.response.message
    );
    // It installs, then approves the committed sequence again with its package: allowed,
    // because the parameters equal the committed definition.
    assert_eq!(network.install(1, &pkg), id);
    network.approve(1, &def, Some(&id));
    assert_eq!(
        network.invoke("kv", &["put", "a", "1"], false).0,
        Code::Valid
    );
    // Re-approving the committed sequence with other parameters is refused.
    let (_, responses) = network.lifecycle(
        &[1],
        network.admin(1),
        "ApproveChaincodeDefinitionForMyOrg",
        Def::new("kv", 1, "1.1").approve(Some(&id)),
    );
    assert!(
        responses[0]
            .response
            .message
            .contains("attempted to redefine the current committed sequence (1)"),
        "{}",
        responses[0].response.message
    );

    // A policy-only upgrade: sequence 2, same package, any one org may endorse.
    let def2 = Def::new("kv", 2, "1.0").with_policy("OR('Org1MSP.peer', 'Org2MSP.peer')");
    network.approve(0, &def2, Some(&id));
    network.approve(1, &def2, Some(&id));
    assert_eq!(network.commit(&[0, 1], &def2), Code::Valid);
    let proposal = signed_proposal(
        network.client(1),
        CHANNEL,
        "kv",
        vec![b"put".to_vec(), b"b".to_vec(), b"2".to_vec()],
        false,
    );
    let response = network.send(1, &proposal);
    let tx = Network::envelope(network.client(1), &proposal, &[response]);
    assert_eq!(network.submit(vec![tx]), [Code::Valid]);
    let (code, payload) = network.invoke("kv", &["get", "b"], false);
    assert_eq!(code, Code::Valid);
    assert_eq!(payload, b"2");
}

#[test]
fn different_packages_per_org_and_one_package_under_two_names() {
    let network = Network::new();
    // The same module packaged under two labels: two package IDs.
    let id1 = network.install(0, &package(&net().kv_wasm, "kv_org1"));
    let id2 = network.install(1, &package(&net().kv_wasm, "kv_org2"));
    assert_ne!(id1, id2);
    let def = Def::new("kv", 1, "1.0");
    network.approve(0, &def, Some(&id1));
    network.approve(1, &def, Some(&id2));
    assert_eq!(network.commit(&[0, 1], &def), Code::Valid);
    assert_eq!(
        network.invoke("kv", &["put", "x", "1"], false).0,
        Code::Valid
    );

    // One package under a second name, with its own definition.
    let other = Def::new("kv-copy", 1, "7");
    network.approve(0, &other, Some(&id1));
    network.approve(1, &other, Some(&id2));
    assert_eq!(network.commit(&[0, 1], &other), Code::Valid);
    assert_eq!(
        network.invoke("kv-copy", &["put", "x", "2"], false).0,
        Code::Valid
    );
    // Each name has its own namespace.
    assert_eq!(network.invoke("kv", &["get", "x"], false).1, b"1");
    assert_eq!(network.invoke("kv-copy", &["get", "x"], false).1, b"2");
    let r = network.local(
        0,
        network.admin(0),
        "QueryInstalledChaincode",
        lc::QueryInstalledChaincodeArgs {
            package_id: id1.clone(),
        }
        .encode_to_vec(),
    );
    let q = lc::QueryInstalledChaincodeResult::decode(r.response.payload.as_slice()).unwrap();
    let names: Vec<&str> = q.references[CHANNEL]
        .chaincodes
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(names, ["kv", "kv-copy"]);
}

#[test]
fn init_required_runs_the_init_call_once() {
    let network = Network::new();
    let id = network.install(0, &package(&net().kv_wasm, "kv_1"));
    assert_eq!(network.install(1, &package(&net().kv_wasm, "kv_1")), id);
    let mut def = Def::new("kv", 1, "1.0");
    def.init_required = true;
    network.approve(0, &def, Some(&id));
    network.approve(1, &def, Some(&id));
    assert_eq!(network.commit(&[0, 1], &def), Code::Valid);

    let plain = signed_proposal(
        network.client(0),
        CHANNEL,
        "kv",
        vec![b"put".to_vec(), b"a".to_vec(), b"1".to_vec()],
        false,
    );
    let r = network.send(0, &plain);
    assert_eq!(r.response.status, 500);
    assert!(
        r.response
            .message
            .contains("has not been initialized for this version, must call as init first"),
        "{}",
        r.response.message
    );
    assert_eq!(
        network.invoke("kv", &["put", "init", "done"], true).0,
        Code::Valid
    );
    let again = signed_proposal(
        network.client(0),
        CHANNEL,
        "kv",
        vec![b"put".to_vec(), b"a".to_vec(), b"1".to_vec()],
        true,
    );
    let r = network.send(0, &again);
    assert!(
        r.response
            .message
            .contains("is already initialized but called as init"),
        "{}",
        r.response.message
    );
    assert_eq!(
        network.invoke("kv", &["put", "a", "1"], false).0,
        Code::Valid
    );

    // Two init calls endorsed from the same state: the second conflicts at commit.
    let network = Network::new();
    let id = network.install(0, &package(&net().kv_wasm, "kv_1"));
    network.install(1, &package(&net().kv_wasm, "kv_1"));
    network.approve(0, &def, Some(&id));
    network.approve(1, &def, Some(&id));
    assert_eq!(network.commit(&[0, 1], &def), Code::Valid);
    let txs: Vec<Vec<u8>> = (0..2)
        .map(|i| {
            let p = signed_proposal(
                network.client(0),
                CHANNEL,
                "kv",
                vec![b"put".to_vec(), format!("k{i}").into_bytes(), b"v".to_vec()],
                true,
            );
            let responses: Vec<ProposalResponse> = (0..2).map(|o| network.send(o, &p)).collect();
            Network::envelope(network.client(0), &p, &responses)
        })
        .collect();
    assert_eq!(network.submit(txs), [Code::Valid, Code::MvccReadConflict]);
}

#[test]
fn cscc_lists_channels_and_returns_the_latest_config_block() {
    let network = Network::new();
    let genesis = cambium_channel::genesis_block(
        &net().config,
        Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        },
    );
    for org in &network.orgs {
        org.ledger
            .commit_block(&cambium_ledger::BlockCommit {
                block: Block::decode(&genesis).expect("genesis decodes"),
                outcomes: vec![cambium_ledger::TxOutcome::valid(Vec::new())],
            })
            .expect("genesis commits");
    }
    // Transactions after the config block do not change which block is the config block.
    let (network, _) = {
        let id = network.install(0, &package(&net().kv_wasm, "kv_1"));
        network.install(1, &package(&net().kv_wasm, "kv_1"));
        let def = Def::new("kv", 1, "1.0");
        network.approve(0, &def, Some(&id));
        network.approve(1, &def, Some(&id));
        assert_eq!(network.commit(&[0, 1], &def), Code::Valid);
        (network, id)
    };

    let channels = signed_proposal(
        network.client(0),
        "",
        "cscc",
        vec![b"GetChannels".to_vec()],
        false,
    );
    let r = network.send(0, &channels);
    assert_eq!(r.response.status, 200, "{}", r.response.message);
    assert!(r.payload.is_empty() && r.endorsement.is_none());
    let list = peer::ChannelQueryResponse::decode(r.response.payload.as_slice()).unwrap();
    assert_eq!(list.channels.len(), 1);
    assert_eq!(list.channels[0].channel_id, CHANNEL);
    // A client of another org is not a member of this peer's MSP.
    let r = network.send(1, &channels);
    assert_eq!(r.response.status, 500);
    assert!(
        r.response.message.contains("error validating proposal"),
        "{}",
        r.response.message
    );

    let config = signed_proposal(
        network.client(1),
        "",
        "cscc",
        vec![b"GetConfigBlock".to_vec(), CHANNEL.as_bytes().to_vec()],
        false,
    );
    let r = network.send(1, &config);
    assert_eq!(r.response.status, 200, "{}", r.response.message);
    let block = Block::decode(&r.response.payload).expect("a block");
    assert_eq!(block.number, 0);
    assert_eq!(
        cambium_channel::ChannelConfig::from_config_block(&r.response.payload)
            .expect("a config block")
            .channel_id(),
        CHANNEL
    );
    let unknown = signed_proposal(
        network.client(1),
        "",
        "cscc",
        vec![b"GetConfigBlock".to_vec(), b"nochannel".to_vec()],
        false,
    );
    let r = network.send(1, &unknown);
    assert!(
        r.response.message.contains("Unknown chain ID, nochannel"),
        "{}",
        r.response.message
    );
    // `peer channel getinfo` sends qscc channel-less, naming the channel in the arguments.
    let info = signed_proposal(
        network.client(0),
        "",
        "qscc",
        vec![b"GetChainInfo".to_vec(), CHANNEL.as_bytes().to_vec()],
        false,
    );
    let r = network.send(0, &info);
    assert_eq!(r.response.status, 200, "{}", r.response.message);
    assert!(r.endorsement.is_none());
    let info = cambium_wire::common::BlockchainInfo::decode(r.response.payload.as_slice()).unwrap();
    assert_eq!(
        info.height,
        network.orgs[0].ledger.snapshot().unwrap().height().unwrap()
    );
    let other = signed_proposal(
        network.client(1),
        "",
        "cscc",
        vec![b"JoinChain".to_vec()],
        false,
    );
    assert!(network
        .send(1, &other)
        .response
        .message
        .contains("not found"));
}

#[test]
fn readiness_names_the_fields_an_org_approved_differently() {
    let network = Network::new();
    let id = network.install(0, &package(&net().kv_wasm, "kv_1"));
    let def = Def::new("kv", 1, "1.0");
    network.approve(0, &def, Some(&id));
    let mut other = Def::new("kv", 1, "1.1").with_policy("OR('Org2MSP.peer')");
    other.init_required = true;
    network.approve(1, &other, None);
    let ready: lc::CheckCommitReadinessResult =
        network.query(0, "CheckCommitReadiness", def.readiness());
    assert_eq!(ready.approvals.get("Org1MSP"), Some(&true));
    assert_eq!(ready.approvals.get("Org2MSP"), Some(&false));
    assert_eq!(
        ready.mismatches["Org2MSP"].items,
        ["EndorsementInfo", "ValidationInfo"]
    );
    assert!(!ready.mismatches.contains_key("Org1MSP"));
    // The readiness check is a query: it reads the approvals and writes nothing.
    let (_, responses) = network.lifecycle(
        &[0],
        network.client(0),
        "CheckCommitReadiness",
        def.readiness(),
    );
    let prp = cambium_wire::tx::parse_proposal_response_payload(&responses[0].payload).unwrap();
    let rwset = cambium_wire::decode_tx_rwset(&prp.action.results).unwrap();
    let ns = &rwset.ns[0];
    assert_eq!(ns.namespace, "_lifecycle");
    assert!(ns.writes.is_empty());
    let read: Vec<&str> = ns.reads.iter().map(|r| r.key.as_str()).collect();
    assert!(
        read.contains(&"approvals/Org1MSP/kv#1") && read.contains(&"approvals/Org2MSP/kv#1"),
        "{read:?}"
    );
    assert_eq!(prp.action.chaincode_id.as_ref().unwrap().version, "syscc");
    // Cambium's readiness report rides along Fabric's result: Org1 approved with its
    // compiled package, Org2 approved something else.
    let report = cambium_lifecycle::report_from_result(&responses[0].response.payload)
        .unwrap()
        .expect("a Cambium peer adds the readiness report");
    assert_eq!(
        report.orgs["Org1MSP"],
        cambium_lifecycle::OrgReadiness {
            approved: true,
            package_id: id.clone(),
            ready: true
        }
    );
    assert!(!report.orgs["Org2MSP"].approved && !report.orgs["Org2MSP"].ready);
    // Org2 changes its mind and approves the same definition without a package: approved,
    // but not ready, so the commit (MAJORITY of two orgs) is refused by the endorsers.
    network.approve(1, &def, None);
    let (_, responses) = network.lifecycle(
        &[0],
        network.client(0),
        "CheckCommitReadiness",
        def.readiness(),
    );
    let report = cambium_lifecycle::report_from_result(&responses[0].response.payload)
        .unwrap()
        .unwrap();
    assert!(report.orgs["Org2MSP"].approved && !report.orgs["Org2MSP"].ready);
    let (_, responses) = network.lifecycle(
        &[0, 1],
        network.client(0),
        "CommitChaincodeDefinition",
        def.commit(),
    );
    for r in &responses {
        assert!(
            r.response
                .message
                .contains("not ready: Org2MSP (approved without a package installed)"),
            "{}",
            r.response.message
        );
    }
    // Org2 installs the package and approves with it: now it can be committed.
    assert_eq!(network.install(1, &package(&net().kv_wasm, "kv_1")), id);
    network.approve(1, &def, Some(&id));
    assert_eq!(network.commit(&[0, 1], &def), Code::Valid);
    // Readiness of the committed sequence is refused: the next one is 2.
    let (_, responses) = network.lifecycle(
        &[0],
        network.client(0),
        "CheckCommitReadiness",
        def.readiness(),
    );
    assert!(
        responses[0]
            .response
            .message
            .contains("sequence 1 of 'kv' is already committed"),
        "{}",
        responses[0].response.message
    );
}

/// Endorses `args` on `name` on both peers with Org1's client; the transaction envelope, not
/// submitted.
pub(crate) fn endorse_both(network: &Network, name: &str, args: &[&str]) -> Vec<u8> {
    let client = network.client(0);
    let proposal = signed_proposal(
        client,
        CHANNEL,
        name,
        args.iter().map(|a| a.as_bytes().to_vec()).collect(),
        false,
    );
    let responses: Vec<ProposalResponse> = (0..2).map(|o| network.send(o, &proposal)).collect();
    // An invoke reads nothing of `_lifecycle` into its read/write set, so an upgrade cannot
    // conflict with it.
    let prp = cambium_wire::tx::parse_proposal_response_payload(&responses[0].payload).unwrap();
    let rwset = cambium_wire::decode_tx_rwset(&prp.action.results).unwrap();
    assert!(
        rwset.ns.iter().all(|ns| ns.namespace != LIFECYCLE),
        "{rwset:?}"
    );
    Network::envelope(client, &proposal, &responses)
}

#[test]
fn transactions_endorsed_before_an_upgrade_stay_valid_within_the_grace_window() {
    let (network, id) = deployed_kv();
    // Endorsed under version 1.0, before the upgrade.
    let early = endorse_both(&network, "kv", &["put", "early", "1"]);
    let late = endorse_both(&network, "kv", &["put", "late", "1"]);
    let conflicting = endorse_both(&network, "kv", &["incr", "counter"]);

    // Upgrade to 2.0 (same package), committed in its own block C.
    let def2 = Def::new("kv", 2, "2.0");
    network.approve(0, &def2, Some(&id));
    network.approve(1, &def2, Some(&id));
    assert_eq!(network.commit(&[0, 1], &def2), Code::Valid);

    // New proposals are endorsed with 2.0.
    let v2 = endorse_both(&network, "kv", &["incr", "counter"]);
    // Block C+1: the 1.0 transaction is valid (its own policy holds, nothing conflicts), the
    // 2.0 one too; the 1.0 increment read `counter` before the 2.0 one wrote it in this
    // block: MVCC still catches the real conflict.
    assert_eq!(
        network.submit(vec![early, v2, conflicting]),
        [Code::Valid, Code::Valid, Code::MvccReadConflict]
    );
    let (_, payload) = network.invoke("kv", &["get", "early"], false);
    assert_eq!(payload, b"1");

    // Blocks C+2 ..= C+5 stay within the default window of 5 blocks; C+6 is past it.
    for i in 0..4 {
        let key = format!("k{i}");
        assert_eq!(
            network.invoke("kv", &["put", &key, "x"], false).0,
            Code::Valid
        );
    }
    let (code, reason) = network.reason(late.clone());
    assert_eq!(code, Code::ChaincodeVersionConflict);
    assert!(
        reason.contains("endorsed with version '1.0' of 'kv'")
            && reason.contains("grace window for '1.0' (5 blocks)")
            && reason.contains("endorse the transaction again"),
        "{reason}"
    );
    assert_eq!(network.submit(vec![late]), [Code::ChaincodeVersionConflict]);

    // A version that was never committed is refused outright.
    let client = network.client(0);
    let proposal = signed_proposal(
        client,
        CHANNEL,
        "kv",
        vec![b"put".to_vec(), b"x".to_vec(), b"y".to_vec()],
        false,
    );
    let mut responses: Vec<ProposalResponse> = (0..2).map(|o| network.send(o, &proposal)).collect();
    for (o, r) in responses.iter_mut().enumerate() {
        let mut prp = peer::ProposalResponsePayload::decode(r.payload.as_slice()).unwrap();
        let mut action = peer::ChaincodeAction::decode(prp.extension.as_slice()).unwrap();
        action.chaincode_id.as_mut().unwrap().version = "9.9".into();
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
    let (code, reason) = network.reason(Network::envelope(client, &proposal, &responses));
    assert_eq!(code, Code::ChaincodeVersionConflict);
    assert!(
        reason.contains("neither the committed version '2.0'"),
        "{reason}"
    );
}

/// Endorses `args` on `name` on Org1's peer alone; the transaction envelope, not submitted.
fn endorse_org1(network: &Network, name: &str, args: &[&str]) -> Vec<u8> {
    let client = network.client(0);
    let proposal = signed_proposal(
        client,
        CHANNEL,
        name,
        args.iter().map(|a| a.as_bytes().to_vec()).collect(),
        false,
    );
    let response = network.send(0, &proposal);
    Network::envelope(client, &proposal, &[response])
}

/// The code `config` gives a single-transaction block of `envelope` on Org1's peer (not
/// committed).
pub(crate) fn code_under(
    network: &Network,
    config: &cambium_channel::ChannelConfig,
    envelope: Vec<u8>,
) -> Code {
    let snapshot = network.orgs[0].ledger.snapshot().expect("snapshot");
    let number = snapshot.height().expect("height");
    let previous = snapshot
        .block(number - 1)
        .expect("read")
        .expect("previous block")
        .hash
        .to_vec();
    let block = Block::new(number, previous, vec![envelope]);
    let policies = LifecyclePolicies::new(&snapshot);
    validate_block(
        &block,
        config,
        &policies,
        &snapshot,
        &ValidationOptions::at(now()),
    )
    .expect("block validates")
    .transactions[0]
        .code
}

#[test]
fn the_previous_version_is_judged_under_its_own_policy_and_the_channel_sets_the_window() {
    let network = Network::new();
    let pkg = package(&net().kv_wasm, "kv_1");
    let id = network.install(0, &pkg);
    network.install(1, &pkg);
    let def1 = Def::new("kv", 1, "1.0").with_policy("OR('Org1MSP.peer')");
    network.approve(0, &def1, Some(&id));
    network.approve(1, &def1, Some(&id));
    assert_eq!(network.commit(&[0, 1], &def1), Code::Valid);
    // Endorsed by Org1 alone, which 1.0's policy allows.
    let first = endorse_org1(&network, "kv", &["put", "a", "1"]);
    let second = endorse_org1(&network, "kv", &["put", "b", "1"]);

    // 2.0 needs both orgs.
    let def2 = Def::new("kv", 2, "2.0").with_policy("AND('Org1MSP.peer', 'Org2MSP.peer')");
    network.approve(0, &def2, Some(&id));
    network.approve(1, &def2, Some(&id));
    assert_eq!(network.commit(&[0, 1], &def2), Code::Valid);

    // The 1.0 transaction is judged under 1.0's policy: valid.
    assert_eq!(network.submit(vec![first]), [Code::Valid]);
    // A 2.0 transaction endorsed by Org1 alone fails 2.0's policy.
    let v2_org1 = endorse_org1(&network, "kv", &["put", "c", "1"]);
    assert_eq!(
        network.submit(vec![v2_org1]),
        [Code::EndorsementPolicyFailure]
    );

    // Two blocks after the commit: within the default window, past a window of 1 block set
    // in the channel config.
    let default = net().config.as_ref();
    assert_eq!(code_under(&network, default, second.clone()), Code::Valid);
    let one_block = config_with_grace(1);
    assert_eq!(
        code_under(&network, &one_block, second),
        Code::ChaincodeVersionConflict
    );
}

/// The test channel's config with the upgrade grace window set to `blocks` blocks.
pub(crate) fn config_with_grace(blocks: u64) -> cambium_channel::ChannelConfig {
    let default = net().config.as_ref();
    let mut root = default.channel_group().clone();
    root.groups
        .get_mut("Application")
        .expect("application group")
        .values
        .insert(
            cambium_lifecycle::upgrade::GRACE_BLOCKS_KEY.to_owned(),
            cambium_lifecycle::upgrade::grace_blocks_config_value(blocks),
        );
    cambium_channel::ChannelConfig::new(CHANNEL, default.sequence(), root).expect("config builds")
}

#[test]
fn each_snapshot_runs_the_definition_committed_at_its_own_height() {
    let (network, id) = deployed_kv();
    let org1 = &network.orgs[0];
    let before = org1.ledger.snapshot().expect("snapshot");
    // Version 1.1 of the same package, sequence 2.
    let def2 = Def::new("kv", 2, "1.1");
    network.approve(0, &def2, Some(&id));
    network.approve(1, &def2, Some(&id));
    assert_eq!(network.commit(&[0, 1], &def2), Code::Valid);
    let after = org1.ledger.snapshot().expect("snapshot");

    let registry = LifecycleRegistry::new("Org1MSP", Arc::clone(&org1.store));
    let version = |snapshot: &cambium_ledger::LedgerSnapshot| {
        registry
            .contract("kv", snapshot)
            .expect("kv resolves")
            .version
    };
    // The registry remembers what it read at the newest height, and a proposal simulated on
    // an older snapshot (one that started before the commit) still runs that snapshot's
    // definition; at each new height it reads again.
    assert_eq!(version(&after), "1.1");
    assert_eq!(version(&before), "1.0");
    assert_eq!(version(&after), "1.1");
    let def3 = Def::new("kv", 3, "1.2");
    network.approve(0, &def3, Some(&id));
    network.approve(1, &def3, Some(&id));
    assert_eq!(network.commit(&[0, 1], &def3), Code::Valid);
    let newest = org1.ledger.snapshot().expect("snapshot");
    assert_eq!(version(&newest), "1.2");
    assert_eq!(version(&after), "1.1");
    assert!(matches!(
        registry.contract("nothing", &newest),
        Err(LookupError::NotDefined)
    ));
}
