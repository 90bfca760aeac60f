//! Signed contract packages end to end (issue #8, item 9): a channel whose configuration has
//! `Application/PackageSigners` = `AND('Org1MSP.admin','Org2MSP.admin')`, two peers endorsing
//! `_lifecycle` proposals, and the validator judging every block with the channel's MSPs.
//! Each bad input is refused by the endorsers or invalidated by the validator, and the state
//! digest of both ledgers stays what it was.

use std::sync::Arc;

use cambium_channel::ChannelConfig;
use cambium_endorser::{
    DirPackageStore, Endorser, EndorserChannel, LifecycleRegistry, PeerLifecycle, ProposalResponse,
};
use cambium_ledger::{Block, BlockReader, BlockWriter, Ledger, SnapshotSource, StateReader};
use cambium_lifecycle::package_signing::{self, PackageSignatures};
use cambium_lifecycle::PackageStore;
use cambium_msp::{load_signing_identity, SigningIdentity};
use cambium_primitives::{Policy, TxValidationCode as Code};
use cambium_validator::{validate_block, LifecyclePolicies, ValidationOptions};
use cambium_wire::lifecycle as lc;
use cambium_wire::Message;

use crate::lifecycle::{now, package, signed_proposal, Network, LIFECYCLE};
use crate::support::{net, CHANNEL};

const BOTH_ADMINS: &str = "AND('Org1MSP.admin','Org2MSP.admin')";

/// The sample channel, with `PackageSigners` = `policy` when given.
fn channel(policy: Option<&str>) -> Arc<ChannelConfig> {
    let mut spec = net()
        .config
        .to_spec()
        .expect("the sample channel has a spec");
    if let Some(dsl) = policy {
        spec.application.policies.insert(
            package_signing::POLICY_NAME.to_owned(),
            Policy::Signature(cambium_msp::policy::parse(dsl).expect("policy parses")),
        );
    }
    Arc::new(ChannelConfig::from_spec(&spec).expect("the channel builds"))
}

/// Org2MSP's admin as another CA (one the channel does not know) issued it.
fn foreign_admin2() -> &'static SigningIdentity {
    static FOREIGN: std::sync::OnceLock<(tempfile::TempDir, SigningIdentity)> =
        std::sync::OnceLock::new();
    let (_, id) = FOREIGN.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temp dir");
        let other = cambium_testing::default_crypto(dir.path());
        let org = other.org("Org2MSP").expect("Org2MSP generated");
        let admin = org
            .users
            .iter()
            .find(|i| i.role == cambium_cryptogen::Role::Admin)
            .expect("an admin");
        let id = load_signing_identity(&admin.msp_dir, "Org2MSP").expect("loads");
        (dir, id)
    });
    id
}

struct SignPeer {
    endorser: Endorser,
    ledger: Arc<Ledger>,
    store: Arc<DirPackageStore>,
}

/// Two peers (Org1MSP, Org2MSP) on a channel with the given configuration.
struct SignNet {
    _dir: tempfile::TempDir,
    config: Arc<ChannelConfig>,
    peers: Vec<SignPeer>,
}

fn endorser(
    org: usize,
    config: &Arc<ChannelConfig>,
    ledger: &Arc<Ledger>,
    store: &Arc<DirPackageStore>,
) -> Endorser {
    let n = net();
    let (msp_id, signer, local) = if org == 0 {
        ("Org1MSP", &n.org1_peer, &n.org1_msp)
    } else {
        ("Org2MSP", &n.org2_peer, &n.org2_msp)
    };
    let endorser = Endorser::new(Arc::clone(&n.vm), Arc::clone(signer));
    endorser.add_channel(EndorserChannel {
        config: Arc::clone(config),
        ledger: Arc::clone(ledger) as _,
        contracts: Arc::new(LifecycleRegistry::new(msp_id, Arc::clone(store))),
    });
    endorser.set_lifecycle(PeerLifecycle {
        local_msp: Arc::clone(local),
        packages: Arc::clone(store) as Arc<dyn PackageStore>,
    });
    endorser
}

impl SignNet {
    fn new(config: Arc<ChannelConfig>) -> SignNet {
        let dir = tempfile::tempdir().expect("temp dir");
        let peers = (0..2)
            .map(|org| {
                let home = dir.path().join(format!("org{org}"));
                let ledger = Arc::new(Ledger::open(home.join("ledger")).expect("ledger"));
                let store = Arc::new(
                    DirPackageStore::open(home.join("packages"), Arc::clone(&net().vm))
                        .expect("store"),
                );
                SignPeer {
                    endorser: endorser(org, &config, &ledger, &store),
                    ledger,
                    store,
                }
            })
            .collect();
        SignNet {
            _dir: dir,
            config,
            peers,
        }
    }

    /// The same peers and ledgers under a new channel configuration (a config update).
    fn reconfigure(&mut self, config: Arc<ChannelConfig>) {
        for (org, peer) in self.peers.iter_mut().enumerate() {
            peer.endorser = endorser(org, &config, &peer.ledger, &peer.store);
        }
        self.config = config;
    }

    fn admin(org: usize) -> &'static SigningIdentity {
        if org == 0 {
            &net().org1_admin
        } else {
            &net().org2_admin
        }
    }

    fn send(&self, org: usize, proposal: &[u8]) -> ProposalResponse {
        self.peers[org]
            .endorser
            .process_proposal_at(proposal, now())
            .expect("processed")
    }

    fn install(&self, org: usize, package: &[u8]) -> String {
        let args = lc::InstallChaincodeArgs {
            chaincode_install_package: package.to_vec(),
        };
        let proposal = signed_proposal(
            Self::admin(org),
            "",
            LIFECYCLE,
            vec![b"InstallChaincode".to_vec(), args.encode_to_vec()],
            false,
        );
        let r = self.send(org, &proposal);
        assert_eq!(r.response.status, 200, "{}", r.response.message);
        lc::InstallChaincodeResult::decode(r.response.payload.as_slice())
            .expect("install result")
            .package_id
    }

    fn lifecycle(
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

    /// Org `org`'s admin approves `kv` at `sequence` with `package_id`, sending `signatures`
    /// as field 1003 when given; the endorsement response.
    fn approve(
        &self,
        org: usize,
        sequence: i64,
        package_id: &str,
        signatures: Option<&PackageSignatures>,
    ) -> (Vec<u8>, Vec<ProposalResponse>) {
        let mut args = lc::ApproveChaincodeDefinitionForMyOrgArgs {
            sequence,
            name: "kv".into(),
            version: format!("{sequence}.0"),
            source: Some(cambium_lifecycle::PackageSource::Local(package_id.into()).to_wire()),
            ..Default::default()
        }
        .encode_to_vec();
        if let Some(signatures) = signatures {
            package_signing::append(signatures, &mut args);
        }
        self.lifecycle(
            &[org],
            Self::admin(org),
            "ApproveChaincodeDefinitionForMyOrg",
            args,
        )
    }

    /// Approves and submits; the validation code.
    fn approve_code(
        &self,
        org: usize,
        sequence: i64,
        package_id: &str,
        signatures: Option<&PackageSignatures>,
    ) -> (Code, String) {
        let (proposal, responses) = self.approve(org, sequence, package_id, signatures);
        let tx = Network::envelope(Self::admin(org), &proposal, &responses);
        self.submit(vec![tx])
    }

    fn commit(&self, sequence: i64) -> (Vec<u8>, Vec<ProposalResponse>) {
        let args = lc::CommitChaincodeDefinitionArgs {
            sequence,
            name: "kv".into(),
            version: format!("{sequence}.0"),
            ..Default::default()
        }
        .encode_to_vec();
        self.lifecycle(&[0, 1], Self::admin(0), "CommitChaincodeDefinition", args)
    }

    /// Validates a block of `envelopes` on both peers with this channel's configuration and
    /// commits it; the first transaction's code and reason (both peers must agree).
    fn submit(&self, envelopes: Vec<Vec<u8>>) -> (Code, String) {
        let mut agreed: Option<(Code, String)> = None;
        for peer in &self.peers {
            let snapshot = peer.ledger.snapshot().expect("snapshot");
            let number = snapshot.height().expect("height");
            let previous = match number.checked_sub(1) {
                None => Vec::new(),
                Some(last) => snapshot
                    .block(last)
                    .expect("read")
                    .expect("block")
                    .hash
                    .to_vec(),
            };
            let block = Block::new(number, previous, envelopes.clone());
            let validation = validate_block(
                &block,
                self.config.as_ref(),
                &LifecyclePolicies::new(&snapshot),
                &snapshot,
                &ValidationOptions::at(now()),
            )
            .expect("block validates");
            let tx = &validation.transactions[0];
            let outcome = (tx.code, tx.reason.clone().unwrap_or_default());
            if let Some(previous) = &agreed {
                assert_eq!(previous, &outcome, "the peers disagree");
            }
            agreed = Some(outcome);
            peer.ledger
                .commit_block(&validation.into_commit(block))
                .expect("block commits");
        }
        agreed.expect("two peers")
    }

    /// Both peers' state digests: equal before and after an attempt that changed nothing.
    fn digests(&self) -> Vec<[u8; 32]> {
        self.peers
            .iter()
            .map(|p| {
                p.ledger
                    .snapshot()
                    .expect("snapshot")
                    .state_digest()
                    .expect("digest")
            })
            .collect()
    }

    /// Invokes `kv put` endorsed by both peers; the code.
    fn invoke(&self) -> Code {
        let client = &net().org1_client;
        let proposal = signed_proposal(
            client,
            CHANNEL,
            "kv",
            vec![b"put".to_vec(), b"k".to_vec(), b"v".to_vec()],
            false,
        );
        let responses: Vec<ProposalResponse> = (0..2).map(|o| self.send(o, &proposal)).collect();
        self.submit(vec![Network::envelope(client, &proposal, &responses)])
            .0
    }
}

fn kv_package() -> Vec<u8> {
    package(&net().kv_wasm, "kv_1")
}

fn signed_by(package: &[u8], signers: &[&SigningIdentity]) -> Vec<u8> {
    signers.iter().fold(package.to_vec(), |p, s| {
        package_signing::sign(&p, s).expect("signs")
    })
}

fn signatures(package: &[u8]) -> PackageSignatures {
    package_signing::read_parts(package)
        .expect("parts")
        .signatures
        .expect("signed")
}

/// Asserts every response refused (no endorsement); the first message.
fn refused(responses: &[ProposalResponse]) -> String {
    for r in responses {
        assert_eq!(r.response.status, 500, "endorsed: {}", r.response.message);
        assert!(r.endorsement.is_none());
    }
    responses[0].response.message.clone()
}

#[test]
fn a_fully_signed_package_is_approved_committed_and_runs() {
    let n = net();
    let network = SignNet::new(channel(Some(BOTH_ADMINS)));
    let signed = signed_by(&kv_package(), &[&n.org1_admin, &n.org2_admin]);
    let id = network.install(0, &signed);
    assert_eq!(network.install(1, &signed), id);
    // Org1 sends the signatures as field 1003; Org2 sends none and its peer takes them from
    // the installed package file.
    assert_eq!(
        network
            .approve_code(0, 1, &id, Some(&signatures(&signed)))
            .0,
        Code::Valid
    );
    assert_eq!(network.approve_code(1, 1, &id, None).0, Code::Valid);
    let (proposal, responses) = network.commit(1);
    let tx = Network::envelope(SignNet::admin(0), &proposal, &responses);
    assert_eq!(network.submit(vec![tx]).0, Code::Valid);
    assert_eq!(network.invoke(), Code::Valid);
    // The approvals keep the signatures (what `contract history` shows).
    for org in ["Org1MSP", "Org2MSP"] {
        let snapshot = network.peers[0].ledger.snapshot().expect("snapshot");
        let mut state = cambium_lifecycle::CommittedState(&snapshot);
        let recorded = cambium_lifecycle::scc::approval_signatures(&mut state, org, "kv", 1)
            .expect("reads")
            .expect("recorded");
        assert_eq!(recorded, signatures(&signed), "{org}");
    }
}

#[test]
fn an_unsigned_package_is_refused_before_anything_is_written() {
    let network = SignNet::new(channel(Some(BOTH_ADMINS)));
    let id = network.install(0, &kv_package());
    let before = network.digests();
    let (_, responses) = network.approve(0, 1, &id, None);
    let message = refused(&responses);
    assert!(
        message.contains("carries no owner signatures")
            && message.contains("/Channel/Application/PackageSigners")
            && message.contains("missing signatures from: Org1MSP.admin, Org2MSP.admin")
            && message.contains("cambium contract sign"),
        "{message}"
    );
    assert_eq!(network.digests(), before);
}

#[test]
fn signatures_the_policy_does_not_name_change_nothing() {
    let n = net();
    let network = SignNet::new(channel(Some(BOTH_ADMINS)));
    let package = kv_package();

    // Another org's signature only: the endorser sees Org2MSP cannot be satisfied.
    let org1_only = signed_by(&package, &[&n.org1_admin]);
    let id = network.install(0, &org1_only);
    let before = network.digests();
    let message = refused(&network.approve(0, 1, &id, None).1);
    assert!(
        message.contains("missing signatures from: Org2MSP.admin"),
        "{message}"
    );
    assert_eq!(network.digests(), before);

    // A member instead of an admin: the endorser judges roles with the channel's MSPs, as the
    // validator does.
    let member = signed_by(&package, &[&n.org1_admin, &n.org2_client]);
    let id = network.install(0, &member);
    let before = network.digests();
    let message = refused(&network.approve(0, 1, &id, None).1);
    assert!(
        message.contains("missing signatures from: Org2MSP.admin"),
        "{message}"
    );
    assert_eq!(network.digests(), before);

    // A certificate the channel's Org2MSP does not accept (another CA).
    let foreign = signed_by(&package, &[&n.org1_admin, foreign_admin2()]);
    let id = network.install(0, &foreign);
    let before = network.digests();
    let message = refused(&network.approve(0, 1, &id, None).1);
    assert!(
        message.contains("missing signatures from: Org2MSP.admin")
            && message.contains("signature(s) were ignored"),
        "{message}"
    );
    assert_eq!(network.digests(), before);
}

#[test]
fn signatures_over_other_code_are_refused() {
    let n = net();
    let network = SignNet::new(channel(Some(BOTH_ADMINS)));
    let signed = signed_by(&kv_package(), &[&n.org1_admin, &n.org2_admin]);
    // Swap the code under the owners' signatures.
    let mut parts = package_signing::read_parts(&signed).expect("parts");
    parts.code = package_signing::read_parts(&package(&n.asset_transfer_wasm, "kv_1"))
        .expect("parts")
        .code;
    let tampered = package_signing::write_parts(&parts).expect("writes");
    let id = network.install(0, &tampered);
    let before = network.digests();
    let message = refused(&network.approve(0, 1, &id, None).1);
    assert!(
        message.contains("made for a different package"),
        "{message}"
    );
    // Honest signatures sent for a tampered package are refused the same way.
    let message = refused(&network.approve(0, 1, &id, Some(&signatures(&signed))).1);
    assert!(
        message.contains("made for a different package"),
        "{message}"
    );
    assert_eq!(network.digests(), before);
}

#[test]
fn without_the_requirement_signed_and_unsigned_packages_work() {
    let n = net();
    let network = SignNet::new(channel(None));
    // Org1 runs a package one owner signed, Org2 the unsigned one (a different package ID).
    let signed = signed_by(&kv_package(), &[&n.org1_admin]);
    let signed_id = network.install(0, &signed);
    let unsigned_id = network.install(1, &kv_package());
    assert_ne!(signed_id, unsigned_id);
    assert_eq!(network.approve_code(0, 1, &signed_id, None).0, Code::Valid);
    assert_eq!(
        network.approve_code(1, 1, &unsigned_id, None).0,
        Code::Valid
    );
    let (proposal, responses) = network.commit(1);
    let tx = Network::envelope(SignNet::admin(0), &proposal, &responses);
    assert_eq!(network.submit(vec![tx]).0, Code::Valid);
    assert_eq!(network.invoke(), Code::Valid);
}

#[test]
fn a_commit_needs_signatures_that_satisfy_the_policy_in_force() {
    let n = net();
    let mut network = SignNet::new(channel(None));
    let unsigned = kv_package();
    let id = network.install(0, &unsigned);
    network.install(1, &unsigned);
    assert_eq!(network.approve_code(0, 1, &id, None).0, Code::Valid);
    assert_eq!(network.approve_code(1, 1, &id, None).0, Code::Valid);
    // A commit endorsed while the channel did not require signed packages...
    let (proposal, responses) = network.commit(1);
    let early = Network::envelope(SignNet::admin(0), &proposal, &responses);
    // ...and the channel starts requiring them before it is ordered.
    network.reconfigure(channel(Some(BOTH_ADMINS)));
    let before = network.digests();
    let (code, reason) = network.submit(vec![early]);
    assert_eq!(code, Code::EndorsementPolicyFailure, "{reason}");
    assert!(
        reason.contains("the commit of sequence 1 of 'kv'")
            && reason.contains("carries no owner signatures"),
        "{reason}"
    );
    assert_eq!(network.digests(), before);
    let message = refused(&network.commit(1).1);
    assert!(
        message.contains("refusing to commit sequence 1 of 'kv'")
            && message.contains("that Org1MSP approved carries no owner signatures")
            && message.contains("Org1MSP approves sequence 1 again"),
        "{message}"
    );
    assert_eq!(network.digests(), before);
    // Both orgs approve again with the signed package; now it commits.
    let signed = signed_by(&unsigned, &[&n.org1_admin, &n.org2_admin]);
    let signed_id = network.install(0, &signed);
    network.install(1, &signed);
    assert_eq!(network.approve_code(0, 1, &signed_id, None).0, Code::Valid);
    assert_eq!(network.approve_code(1, 1, &signed_id, None).0, Code::Valid);
    let (proposal, responses) = network.commit(1);
    let tx = Network::envelope(SignNet::admin(0), &proposal, &responses);
    assert_eq!(network.submit(vec![tx]).0, Code::Valid);
}
