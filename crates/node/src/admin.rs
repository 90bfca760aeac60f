//! Contract administration over Fabric's `_lifecycle` protocol, as Fabric's `peer lifecycle
//! chaincode` commands do it: install and query-installed as channel-less proposals to one
//! peer; approve and commit endorsed by peers, broadcast to the orderer and awaited on the
//! peer's `DeliverFiltered` until they are VALID; the queries as proposals on the channel.

use std::collections::BTreeMap;
use std::time::Duration;

use std::sync::{Arc, Mutex};

use cambium_channel::ChannelConfig;
use cambium_lifecycle::package_signing::{self, PackageSignatures};
use cambium_msp::SigningIdentity;
use cambium_wire::lifecycle as lc;
use cambium_wire::peer::{self, application_policy};
use cambium_wire::Message;
use serde::Serialize;
use tonic::transport::Channel;

use crate::client::{self, CommitWatcher};
use crate::connect::{connect, ClientTls};
use crate::error::{NodeError, Result};
use crate::profile::{ConnectionProfile, Node};
use crate::upgrade::{self, RolloutPlan, RolloutStatus, RolloutStep};

/// The system contract that manages contract definitions.
pub const LIFECYCLE: &str = "_lifecycle";

/// How long commit waits for its endorsing peers to see the same approvals.
pub const AGREEMENT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long approve and commit wait for their transaction to commit.
pub const COMMIT_TIMEOUT: Duration = Duration::from_secs(30);

/// An organisation admin acting on a network: who signs, and which profile says where the
/// nodes are.
#[derive(Clone, Debug)]
pub struct Admin {
    /// The network.
    pub profile: ConnectionProfile,
    /// The organisation's key in the profile (`Org1`).
    pub org: String,
    /// The admin's signing identity.
    pub signer: Arc<SigningIdentity>,
    /// The admin's TLS client certificate, for nodes that want mutual TLS.
    pub client_tls: Option<ClientTls>,
    /// The channel to act on.
    pub channel_id: String,
    /// Connections opened so far, by node URL, shared with clones: each lifecycle call and
    /// each poll of a wait would otherwise pay a TLS handshake on both ends.
    connections: Arc<Mutex<BTreeMap<String, Channel>>>,
}

/// A contract definition as approved and committed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Definition {
    /// The contract's name on the channel.
    pub name: String,
    /// Its version label.
    pub version: String,
    /// The definition's sequence (1 for the first, +1 for each change).
    pub sequence: i64,
    /// `ApplicationPolicy` bytes; empty means the channel's default endorsement policy. JSON
    /// shows it as `endorsement_policy`, in the policy language or as the channel policy's path.
    #[serde(rename = "endorsement_policy", serialize_with = "serialize_policy")]
    pub validation_parameter: Vec<u8>,
    /// Whether `Init` must be invoked once before other calls.
    pub init_required: bool,
    /// A canary rollout plan (Cambium extension field 1001), for an upgrade that starts as a
    /// rollout; `None` switches every transaction at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rollout: Option<RolloutPlan>,
    /// The definition's own upgrade policy (Cambium extension field 1002), e.g.
    /// `AND('Org1MSP.admin','Org2MSP.admin')`: the next definition's commit must satisfy it over
    /// the organisations whose admins approved it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upgrade_policy: Option<String>,
}

/// `ApplicationPolicy` bytes as people read them: a signature policy in Fabric's policy
/// language (`AND('Org1MSP.peer', 'Org2MSP.peer')`), or the path of the channel policy it refers
/// to (`/Channel/Application/Endorsement` when there are no bytes, as for Fabric's default).
pub fn endorsement_policy_text(validation_parameter: &[u8]) -> String {
    if validation_parameter.is_empty() {
        return cambium_lifecycle::DEFAULT_ENDORSEMENT_POLICY.to_owned();
    }
    match cambium_lifecycle::ApplicationPolicy::decode(validation_parameter) {
        Ok(cambium_lifecycle::ApplicationPolicy::Signature(envelope)) => {
            cambium_msp::policy::format(&envelope)
        }
        Ok(cambium_lifecycle::ApplicationPolicy::ChannelReference(path)) => path,
        Err(e) => format!("(unreadable: {e})"),
    }
}

fn serialize_policy<S: serde::Serializer>(
    bytes: &[u8],
    serializer: S,
) -> std::result::Result<S::Ok, S::Error> {
    serializer.serialize_str(&endorsement_policy_text(bytes))
}

impl Definition {
    /// The endorsement policy, as [`endorsement_policy_text`] prints it.
    pub fn endorsement_policy(&self) -> String {
        endorsement_policy_text(&self.validation_parameter)
    }

    /// A definition with the channel's default endorsement policy.
    pub fn new(name: &str, version: &str, sequence: i64) -> Definition {
        Definition {
            name: name.to_owned(),
            version: version.to_owned(),
            sequence,
            ..Definition::default()
        }
    }

    /// Sets a signature policy such as `AND('Org1MSP.peer','Org2MSP.peer')`.
    pub fn with_signature_policy(mut self, policy: &str) -> Result<Definition> {
        let envelope = cambium_msp::policy::parse(policy)
            .map_err(|e| NodeError::Rejected(format!("--signature-policy {policy:?}: {e}")))?;
        let bytes = cambium_wire::encode_signature_policy_envelope(&envelope);
        let message = cambium_wire::common::SignaturePolicyEnvelope::decode(bytes.as_slice())
            .map_err(|e| NodeError::Rejected(format!("encoding the policy: {e}")))?;
        self.validation_parameter = peer::ApplicationPolicy {
            r#type: Some(application_policy::Type::SignaturePolicy(message)),
        }
        .encode_to_vec();
        Ok(self)
    }

    /// Sets the definition's own upgrade policy (checked here for syntax).
    pub fn with_upgrade_policy(mut self, policy: &str) -> Result<Definition> {
        cambium_msp::policy::parse(policy)
            .map_err(|e| NodeError::Rejected(format!("--upgrade-policy {policy:?}: {e}")))?;
        self.upgrade_policy = Some(policy.to_owned());
        Ok(self)
    }

    /// Refers to a channel policy such as `/Channel/Application/Endorsement`.
    pub fn with_channel_config_policy(mut self, path: &str) -> Definition {
        self.validation_parameter = peer::ApplicationPolicy {
            r#type: Some(application_policy::Type::ChannelConfigPolicyReference(
                path.to_owned(),
            )),
        }
        .encode_to_vec();
        self
    }
}

/// An installed package.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Installed {
    /// `label:sha256`.
    pub package_id: String,
    /// The package's label.
    pub label: String,
    /// Per channel, the `name:version` of definitions that use it.
    pub references: BTreeMap<String, Vec<String>>,
}

/// A transaction that committed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Committed {
    /// The transaction ID.
    pub tx_id: String,
    /// The block it committed in.
    pub block: u64,
}

/// An organisation's approved definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Approved {
    /// The definition.
    #[serde(flatten)]
    pub definition: Definition,
    /// The package the organisation runs, if any.
    pub package_id: Option<String>,
}

/// A committed definition and the organisations that approved it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CommittedDefinition {
    /// The definition.
    #[serde(flatten)]
    pub definition: Definition,
    /// Approvals by MSP ID (only when one name was queried).
    pub approvals: BTreeMap<String, bool>,
}

impl Admin {
    /// The admin of organisation `org` (`Org1`, `org1` or `Org1MSP`) on the profile's channel
    /// (or `channel`).
    pub fn new(profile: ConnectionProfile, org: &str, channel: Option<&str>) -> Result<Admin> {
        let (key, _) = profile.organization(org)?;
        let key = key.to_owned();
        let signer = Arc::new(profile.signing_identity(&key, "Admin")?);
        let files = profile.client_files(&key, "Admin")?;
        let client_tls = match (
            std::fs::read(&files.tls_cert),
            std::fs::read(&files.tls_key),
        ) {
            (Ok(cert), Ok(key)) => Some(ClientTls { cert, key }),
            _ => None,
        };
        let channel_id = match channel {
            Some(c) => c.to_owned(),
            None => profile.channel()?.to_owned(),
        };
        Ok(Admin {
            profile,
            org: key,
            signer,
            client_tls,
            channel_id,
            connections: Arc::default(),
        })
    }

    /// The peer to talk to: `peer` if given, else this organisation's first peer.
    pub fn peer_name(&self, peer: Option<&str>) -> Result<String> {
        Ok(self.profile.peer_of(&self.org, peer)?.0.to_owned())
    }

    async fn peer_channel(&self, peer: &str) -> Result<(String, Channel)> {
        let (_, node) = self.profile.peer(peer)?;
        Ok((node.url.clone(), self.channel_to(node).await?))
    }

    /// A connection to `node`, opened on first use and kept (tonic reconnects it if the node
    /// restarts). Two calls racing to open the first connection keep one of them.
    async fn channel_to(&self, node: &Node) -> Result<Channel> {
        if let Some(channel) = self.open_connections().get(&node.url) {
            return Ok(channel.clone());
        }
        let channel = connect(node, self.client_tls.as_ref()).await?;
        Ok(self
            .open_connections()
            .entry(node.url.clone())
            .or_insert(channel)
            .clone())
    }

    fn open_connections(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Channel>> {
        self.connections
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Calls the `_lifecycle` function `function(args)` on `peer` for `channel_id` as this
    /// admin, without submitting; returns the response payload.
    pub async fn call(
        &self,
        peer: &str,
        channel_id: &str,
        function: &str,
        args: Vec<u8>,
    ) -> Result<Vec<u8>> {
        let proposal = client::signed_proposal(
            &self.signer,
            channel_id,
            LIFECYCLE,
            vec![function.as_bytes().to_vec(), args],
        )?;
        let (url, channel) = self.peer_channel(peer).await?;
        let response = client::process_proposal(channel, &url, &proposal).await?;
        client::response_payload(&response, &format!("{peer} ({url})"), function)
    }

    /// Installs a package on `peer`; returns its package ID and label.
    pub async fn install(&self, peer: &str, package: &[u8]) -> Result<Installed> {
        let args = lc::InstallChaincodeArgs {
            chaincode_install_package: package.to_vec(),
        };
        let bytes = self
            .call(peer, "", "InstallChaincode", args.encode_to_vec())
            .await?;
        let result = decode::<lc::InstallChaincodeResult>(&bytes, "InstallChaincodeResult")?;
        Ok(Installed {
            package_id: result.package_id,
            label: result.label,
            references: BTreeMap::new(),
        })
    }

    /// The packages installed on `peer`.
    pub async fn query_installed(&self, peer: &str) -> Result<Vec<Installed>> {
        let bytes = self
            .call(
                peer,
                "",
                "QueryInstalledChaincodes",
                lc::QueryInstalledChaincodesArgs {}.encode_to_vec(),
            )
            .await?;
        let result =
            decode::<lc::QueryInstalledChaincodesResult>(&bytes, "QueryInstalledChaincodesResult")?;
        Ok(result
            .installed_chaincodes
            .into_iter()
            .map(|c| Installed {
                package_id: c.package_id,
                label: c.label,
                references: c
                    .references
                    .into_iter()
                    .map(|(channel, refs)| {
                        let names = refs
                            .chaincodes
                            .into_iter()
                            .map(|r| format!("{}:{}", r.name, r.version))
                            .collect();
                        (channel, names)
                    })
                    .collect(),
            })
            .collect())
    }

    /// Approves `definition` for this organisation (running `package_id`, or none), endorsed
    /// by `peer`, and waits until the approval commits VALID.
    pub async fn approve(
        &self,
        peer: &str,
        definition: &Definition,
        package_id: Option<&str>,
    ) -> Result<Committed> {
        self.approve_signed(peer, definition, package_id, None)
            .await
    }

    /// The channel's current configuration, read with `cscc GetConfigBlock` from `peer`.
    pub async fn channel_config(&self, peer: &str) -> Result<ChannelConfig> {
        let proposal = client::signed_proposal(
            &self.signer,
            "",
            "cscc",
            vec![
                b"GetConfigBlock".to_vec(),
                self.channel_id.as_bytes().to_vec(),
            ],
        )?;
        let (url, channel) = self.peer_channel(peer).await?;
        let response = client::process_proposal(channel, &url, &proposal).await?;
        let block =
            client::response_payload(&response, &format!("{peer} ({url})"), "GetConfigBlock")?;
        ChannelConfig::from_config_block(&block).map_err(|e| {
            NodeError::Rejected(format!(
                "the config block of channel {} from {peer} cannot be read: {e}",
                self.channel_id
            ))
        })
    }

    /// The owner signatures of `package` to approve it with, checked against the channel's
    /// `PackageSigners` requirement (read from `peer`) before anything is submitted; see
    /// [`check_package_signatures`].
    pub async fn package_signatures(
        &self,
        peer: &str,
        package: &[u8],
    ) -> Result<Option<PackageSignatures>> {
        let config = self.channel_config(peer).await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        check_package_signatures(&config, package, now)
    }

    /// [`Admin::approve`] sending the package's owner `signatures` (Cambium extension field
    /// 1003), which a channel requiring signed packages checks and records with the approval.
    pub async fn approve_signed(
        &self,
        peer: &str,
        definition: &Definition,
        package_id: Option<&str>,
        signatures: Option<&PackageSignatures>,
    ) -> Result<Committed> {
        let source = lc::ChaincodeSource {
            r#type: Some(match package_id {
                Some(id) => lc::chaincode_source::Type::LocalPackage(lc::chaincode_source::Local {
                    package_id: id.to_owned(),
                }),
                None => {
                    lc::chaincode_source::Type::Unavailable(lc::chaincode_source::Unavailable {})
                }
            }),
        };
        let args = lc::ApproveChaincodeDefinitionForMyOrgArgs {
            sequence: definition.sequence,
            name: definition.name.clone(),
            version: definition.version.clone(),
            endorsement_plugin: String::new(),
            validation_plugin: String::new(),
            validation_parameter: definition.validation_parameter.clone(),
            collections: None,
            init_required: definition.init_required,
            source: Some(source),
        };
        let mut args = with_rollout(args.encode_to_vec(), definition);
        if let Some(signatures) = signatures {
            package_signing::append(signatures, &mut args);
        }
        self.submit(
            &[peer.to_owned()],
            peer,
            "ApproveChaincodeDefinitionForMyOrg",
            args,
        )
        .await
        .map(|(committed, _)| committed)
    }

    /// Which organisations have approved `definition`, asked of `peer`.
    pub async fn check_commit_readiness(
        &self,
        peer: &str,
        definition: &Definition,
    ) -> Result<BTreeMap<String, bool>> {
        let args = lc::CheckCommitReadinessArgs {
            sequence: definition.sequence,
            name: definition.name.clone(),
            version: definition.version.clone(),
            endorsement_plugin: String::new(),
            validation_plugin: String::new(),
            validation_parameter: definition.validation_parameter.clone(),
            collections: None,
            init_required: definition.init_required,
        };
        let bytes = self
            .call(
                peer,
                &self.channel_id,
                "CheckCommitReadiness",
                with_rollout(args.encode_to_vec(), definition),
            )
            .await?;
        Ok(
            decode::<lc::CheckCommitReadinessResult>(&bytes, "CheckCommitReadinessResult")?
                .approvals,
        )
    }

    /// Commits `definition`, endorsed by every peer in `peers`, and waits (on the first
    /// peer) until it commits VALID.
    pub async fn commit(&self, peers: &[String], definition: &Definition) -> Result<Committed> {
        let args = commit_args(definition);
        let watch = peers.first().ok_or_else(|| {
            NodeError::Rejected("commit needs at least one peer to endorse it".to_owned())
        })?;
        self.wait_for_agreement(peers, definition).await?;
        self.submit(peers, watch, "CommitChaincodeDefinition", args)
            .await
            .map(|(committed, _)| committed)
    }

    /// Endorses the commit of `definition` on every peer in `peers` without submitting it:
    /// what `--dry-run` shows (the read/write set the commit would write, including a
    /// migration's). Nothing changes on the ledger.
    ///
    /// Also returns the size in bytes of the signed transaction the commit would broadcast,
    /// which the channel's `AbsoluteMaxBytes` bounds.
    pub async fn endorse_commit(
        &self,
        peers: &[String],
        definition: &Definition,
    ) -> Result<(Vec<(String, peer::ProposalResponse)>, usize)> {
        let (proposal, responses) = self
            .endorse(peers, "CommitChaincodeDefinition", commit_args(definition))
            .await?;
        let envelope = client::endorsed_envelope(&self.signer, &proposal, &responses)?;
        Ok((responses, envelope.encoded_len()))
    }

    /// The package `package_id` as installed on `peer` (Fabric's
    /// `GetInstalledChaincodePackage`).
    pub async fn get_installed_package(&self, peer: &str, package_id: &str) -> Result<Vec<u8>> {
        let args = lc::GetInstalledChaincodePackageArgs {
            package_id: package_id.to_owned(),
        };
        let bytes = self
            .call(
                peer,
                "",
                "GetInstalledChaincodePackage",
                args.encode_to_vec(),
            )
            .await?;
        Ok(decode::<lc::GetInstalledChaincodePackageResult>(
            &bytes,
            "GetInstalledChaincodePackageResult",
        )?
        .chaincode_install_package)
    }

    /// The rollout of `name` (`_lifecycle` `QueryRollout`), asked of `peer`.
    pub async fn query_rollout(&self, peer: &str, name: &str) -> Result<RolloutStatus> {
        let bytes = self
            .call(
                peer,
                &self.channel_id,
                RolloutStep::Status.function(),
                upgrade::step_args(name, 0),
            )
            .await?;
        RolloutStatus::decode(&bytes)
    }

    /// Submits the rollout step `step` for `name`, endorsed by every peer in `endorsers`, and
    /// waits (on the first) until it commits VALID; returns the transaction and the rollout
    /// as the step left it. [`RolloutStep::Status`] is a query: use [`Admin::query_rollout`].
    pub async fn rollout_step(
        &self,
        endorsers: &[String],
        name: &str,
        step: &RolloutStep,
    ) -> Result<(Committed, RolloutStatus)> {
        if matches!(step, RolloutStep::Status) {
            return Err(NodeError::Rejected(
                "QueryRollout is a query, not a step; use query_rollout".to_owned(),
            ));
        }
        let watch = endorsers.first().ok_or_else(|| {
            NodeError::Rejected("a rollout step needs at least one peer to endorse it".to_owned())
        })?;
        // A step just committed on one peer may not have reached another yet; peers that
        // disagree would endorse different results (or refuse the next step).
        self.wait_for_rollout(endorsers, name, None).await?;
        let (committed, payload) = self
            .submit(
                endorsers,
                watch,
                step.function(),
                upgrade::step_args(name, step.weight()),
            )
            .await?;
        let status = RolloutStatus::decode(&payload)?;
        // Return once every endorser serves the new state, so the next command sees it.
        self.wait_for_rollout(endorsers, name, Some(&status))
            .await?;
        Ok((committed, status))
    }

    /// Waits until every peer in `peers` answers `QueryRollout` for `name` alike (and, with
    /// `expected`, exactly so); a peer that answers with an error counts as "no rollout".
    async fn wait_for_rollout(
        &self,
        peers: &[String],
        name: &str,
        expected: Option<&RolloutStatus>,
    ) -> Result<()> {
        let started = std::time::Instant::now();
        loop {
            let mut answers = Vec::with_capacity(peers.len());
            for peer in peers {
                answers.push(self.query_rollout(peer, name).await.ok());
            }
            let agree = answers.windows(2).all(|w| w[0] == w[1]);
            let as_expected =
                expected.is_none_or(|e| answers.iter().all(|a| a.as_ref() == Some(e)));
            if agree && as_expected {
                return Ok(());
            }
            if started.elapsed() > AGREEMENT_TIMEOUT {
                return Err(NodeError::Rejected(format!(
                    "the peers {} still report different rollouts of '{name}' after {:.0} s; check that every peer receives blocks",
                    peers.join(", "),
                    AGREEMENT_TIMEOUT.as_secs_f64()
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until every peer in `peers` reports `name` committed at `sequence` or later.
    pub async fn wait_for_sequence(
        &self,
        peers: &[String],
        name: &str,
        sequence: i64,
    ) -> Result<()> {
        let started = std::time::Instant::now();
        loop {
            let mut behind = Vec::new();
            for peer in peers {
                if self.committed_sequence(peer, name).await? < sequence {
                    behind.push(peer.as_str());
                }
            }
            if behind.is_empty() {
                return Ok(());
            }
            if started.elapsed() > AGREEMENT_TIMEOUT {
                return Err(NodeError::Rejected(format!(
                    "{} still do not report '{name}' at sequence {sequence} after {:.0} s; check that they receive blocks",
                    behind.join(", "),
                    AGREEMENT_TIMEOUT.as_secs_f64()
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until every peer in `peers` reports the same approvals for `definition`: an
    /// approval just committed on one peer may not have reached another yet, and peers that
    /// disagree would endorse different results.
    async fn wait_for_agreement(&self, peers: &[String], definition: &Definition) -> Result<()> {
        let started = std::time::Instant::now();
        loop {
            let mut answers = Vec::with_capacity(peers.len());
            for peer in peers {
                answers.push(self.check_commit_readiness(peer, definition).await?);
            }
            if answers.windows(2).all(|w| w[0] == w[1]) {
                return Ok(());
            }
            if started.elapsed() > AGREEMENT_TIMEOUT {
                return Err(NodeError::Rejected(format!(
                    "the peers {} still see different approvals for '{}' sequence {} after {:.0} s; check that every peer receives blocks",
                    peers.join(", "),
                    definition.name,
                    definition.sequence,
                    AGREEMENT_TIMEOUT.as_secs_f64()
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// This organisation's approved definition of `name` at `sequence` (or the latest).
    pub async fn query_approved(
        &self,
        peer: &str,
        name: &str,
        sequence: Option<i64>,
    ) -> Result<Approved> {
        let args = lc::QueryApprovedChaincodeDefinitionArgs {
            name: name.to_owned(),
            sequence: sequence.unwrap_or(0),
        };
        let bytes = self
            .call(
                peer,
                &self.channel_id,
                "QueryApprovedChaincodeDefinition",
                args.encode_to_vec(),
            )
            .await?;
        let r = decode::<lc::QueryApprovedChaincodeDefinitionResult>(
            &bytes,
            "QueryApprovedChaincodeDefinitionResult",
        )?;
        let package_id = match r.source.and_then(|s| s.r#type) {
            Some(lc::chaincode_source::Type::LocalPackage(local)) => Some(local.package_id),
            _ => None,
        };
        Ok(Approved {
            definition: Definition {
                name: name.to_owned(),
                version: r.version,
                sequence: r.sequence,
                validation_parameter: r.validation_parameter,
                init_required: r.init_required,
                rollout: RolloutPlan::from_extension(&bytes)?,
                upgrade_policy: upgrade_policy_of(&bytes)?,
            },
            package_id,
        })
    }

    /// The committed definition of `name`, or all committed definitions.
    pub async fn query_committed(
        &self,
        peer: &str,
        name: Option<&str>,
    ) -> Result<Vec<CommittedDefinition>> {
        match name {
            Some(name) => {
                let args = lc::QueryChaincodeDefinitionArgs {
                    name: name.to_owned(),
                };
                let bytes = self
                    .call(
                        peer,
                        &self.channel_id,
                        "QueryChaincodeDefinition",
                        args.encode_to_vec(),
                    )
                    .await?;
                let r = decode::<lc::QueryChaincodeDefinitionResult>(
                    &bytes,
                    "QueryChaincodeDefinitionResult",
                )?;
                Ok(vec![CommittedDefinition {
                    definition: Definition {
                        name: name.to_owned(),
                        version: r.version,
                        sequence: r.sequence,
                        validation_parameter: r.validation_parameter,
                        init_required: r.init_required,
                        rollout: RolloutPlan::from_extension(&bytes)?,
                        upgrade_policy: upgrade_policy_of(&bytes)?,
                    },
                    approvals: r.approvals,
                }])
            }
            None => {
                let bytes = self
                    .call(
                        peer,
                        &self.channel_id,
                        "QueryChaincodeDefinitions",
                        lc::QueryChaincodeDefinitionsArgs {}.encode_to_vec(),
                    )
                    .await?;
                let r = decode::<lc::QueryChaincodeDefinitionsResult>(
                    &bytes,
                    "QueryChaincodeDefinitionsResult",
                )?;
                Ok(r.chaincode_definitions
                    .into_iter()
                    .map(|d| CommittedDefinition {
                        definition: Definition {
                            name: d.name,
                            version: d.version,
                            sequence: d.sequence,
                            validation_parameter: d.validation_parameter,
                            init_required: d.init_required,
                            rollout: None,
                            upgrade_policy: None,
                        },
                        approvals: BTreeMap::new(),
                    })
                    .collect())
            }
        }
    }

    /// The sequence of `name` committed on the channel, 0 if none.
    pub async fn committed_sequence(&self, peer: &str, name: &str) -> Result<i64> {
        match self.query_committed(peer, Some(name)).await {
            Ok(defs) => Ok(defs.first().map_or(0, |d| d.definition.sequence)),
            // Fabric answers 404 for a name with no committed definition.
            Err(NodeError::Rejected(message)) if message.contains("status 404") => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Endorses `function(args)` on every peer in `endorsers`; returns the proposal and the
    /// successful responses (any refusal is an error naming the peer).
    async fn endorse(
        &self,
        endorsers: &[String],
        function: &str,
        args: Vec<u8>,
    ) -> Result<(
        client::SignedProposal,
        Vec<(String, peer::ProposalResponse)>,
    )> {
        let proposal = client::signed_proposal(
            &self.signer,
            &self.channel_id,
            LIFECYCLE,
            vec![function.as_bytes().to_vec(), args],
        )?;
        let mut calls = Vec::with_capacity(endorsers.len());
        for peer in endorsers {
            let proposal = proposal.clone();
            let this = self.clone();
            let peer = peer.clone();
            calls.push(tokio::spawn(async move {
                let (url, channel) = this.peer_channel(&peer).await?;
                let response = client::process_proposal(channel, &url, &proposal).await?;
                client::response_payload(
                    &response,
                    &format!("{peer} ({url})"),
                    &this_fn(&proposal),
                )?;
                Ok::<_, NodeError>((format!("{peer} ({url})"), response))
            }));
        }
        let mut responses = Vec::with_capacity(calls.len());
        for call in calls {
            responses.push(
                call.await
                    .map_err(|e| NodeError::Rejected(format!("endorsement task failed: {e}")))??,
            );
        }
        Ok((proposal, responses))
    }

    /// Endorses `function(args)` on every peer in `endorsers`, broadcasts the transaction to
    /// the orderer and waits on `watch` until it commits; anything but VALID is an error.
    /// Returns the transaction and the endorsed response payload.
    ///
    /// Under load the peers may simulate at different heights and disagree, or a key the
    /// simulation read may change before the transaction is ordered (a migration reads its
    /// whole namespace). Both leave the ledger unchanged, so the call is tried again, a few
    /// times, with a short pause; any other failure is final.
    pub async fn submit(
        &self,
        endorsers: &[String],
        watch: &str,
        function: &str,
        args: Vec<u8>,
    ) -> Result<(Committed, Vec<u8>)> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self
                .submit_once(endorsers, watch, function, args.clone())
                .await?
            {
                Attempt::Committed(done) => return Ok(done),
                Attempt::Transient(reason) if attempt < SUBMIT_ATTEMPTS => {
                    tracing::info!(function, attempt, %reason, "trying again");
                    tokio::time::sleep(Duration::from_millis(50 * attempt as u64)).await;
                }
                Attempt::Transient(reason) => {
                    return Err(NodeError::Rejected(format!(
                        "{function} failed {attempt} times: {reason}; the network may be too \
                         busy or a peer may be behind; try again"
                    )))
                }
            }
        }
    }

    async fn submit_once(
        &self,
        endorsers: &[String],
        watch: &str,
        function: &str,
        args: Vec<u8>,
    ) -> Result<Attempt> {
        let (proposal, responses) = self.endorse(endorsers, function, args).await?;
        if let Some((endpoint, _)) = responses
            .iter()
            .find(|(_, r)| r.payload != responses[0].1.payload)
        {
            return Ok(Attempt::Transient(format!(
                "{endpoint} endorsed a different result than {} (peers at different heights)",
                responses[0].0
            )));
        }
        let payload = responses
            .first()
            .and_then(|(_, r)| r.response.as_ref())
            .map(|r| r.payload.clone())
            .unwrap_or_default();
        let envelope = client::endorsed_envelope(&self.signer, &proposal, &responses)?;
        let (watch_url, watch_channel) = self.peer_channel(watch).await?;
        let mut watcher =
            CommitWatcher::open(watch_channel, &watch_url, &self.signer, &self.channel_id).await?;
        let (_, orderer) = self.profile.orderer()?;
        let orderer_channel = self.channel_to(orderer).await?;
        client::broadcast(orderer_channel, &orderer.url, envelope).await?;
        let (code, block) = watcher.wait(&proposal.tx_id, COMMIT_TIMEOUT).await?;
        let conflict = [
            peer::TxValidationCode::MvccReadConflict as i32,
            peer::TxValidationCode::PhantomReadConflict as i32,
        ];
        if conflict.contains(&code) {
            return Ok(Attempt::Transient(format!(
                "transaction {} committed in block {block} as {}",
                proposal.tx_id,
                client::validation_code_name(code)
            )));
        }
        if code != 0 {
            return Err(NodeError::Rejected(format!(
                "{function} transaction {} committed in block {block} as {}; nothing changed",
                proposal.tx_id,
                client::validation_code_name(code)
            )));
        }
        Ok(Attempt::Committed((
            Committed {
                tx_id: proposal.tx_id,
                block,
            },
            payload,
        )))
    }
}

/// How many times a lifecycle transaction is tried when the attempt failed transiently.
const SUBMIT_ATTEMPTS: usize = 8;

/// How one attempt of [`Admin::submit`] ended.
enum Attempt {
    /// Committed VALID.
    Committed((Committed, Vec<u8>)),
    /// Nothing changed, and trying again can succeed.
    Transient(String),
}

/// Fabric's commit arguments for `definition`, with its rollout plan (if any) appended.
fn commit_args(definition: &Definition) -> Vec<u8> {
    let args = lc::CommitChaincodeDefinitionArgs {
        sequence: definition.sequence,
        name: definition.name.clone(),
        version: definition.version.clone(),
        endorsement_plugin: String::new(),
        validation_plugin: String::new(),
        validation_parameter: definition.validation_parameter.clone(),
        collections: None,
        init_required: definition.init_required,
    };
    with_rollout(args.encode_to_vec(), definition)
}

/// Appends `definition`'s rollout plan to encoded Fabric arguments as extension field 1001
/// (Fabric's decoders skip it; Cambium's `_lifecycle` reads it).
/// Fabric's `args` with the definition's Cambium extensions appended: the rollout plan (field
/// 1001) and the upgrade policy (field 1002).
fn with_rollout(mut args: Vec<u8>, definition: &Definition) -> Vec<u8> {
    if let Some(plan) = &definition.rollout {
        args.extend(plan.extension());
    }
    if let Some(policy) = &definition.upgrade_policy {
        cambium_lifecycle::upgrade_policy::append(policy, &mut args);
    }
    args
}

/// The owner signatures `package` carries, checked as the channel will check them: each must
/// be a valid signature of this package, and when `config` requires signed packages
/// (`Application/PackageSigners`) they must satisfy that policy with the channel's MSPs,
/// validating identities at `at` (unix seconds). A refusal names the missing principals and
/// says to run `cambium contract sign`; nothing has been submitted then.
pub fn check_package_signatures(
    config: &ChannelConfig,
    package: &[u8],
    at: i64,
) -> Result<Option<PackageSignatures>> {
    let refused = |e: cambium_lifecycle::LifecycleError| NodeError::Rejected(e.to_string());
    let parts = package_signing::read_parts(package).map_err(refused)?;
    let what = format!("package '{}'", parts.label);
    if let Some(signatures) = &parts.signatures {
        package_signing::check_integrity(signatures, &parts.hash(), &parts.label)
            .map_err(refused)?;
    }
    package_signing::check_requirement(
        config.policy_group(),
        Some(config.msp_manager()),
        at,
        parts.signatures.as_ref(),
        &what,
    )
    .map_err(refused)?;
    Ok(parts.signatures.filter(|s| !s.signatures.is_empty()))
}

/// The upgrade policy (field 1002) a lifecycle result carries, if any.
fn upgrade_policy_of(bytes: &[u8]) -> Result<Option<String>> {
    cambium_lifecycle::upgrade_policy::from_message(bytes)
        .map_err(|e| NodeError::Rejected(format!("reading the upgrade policy: {e}")))
}

/// The lifecycle function a proposal calls, for messages.
fn this_fn(proposal: &client::SignedProposal) -> String {
    proposal_function(&proposal.view.payload_without_transient()).unwrap_or_default()
}

fn proposal_function(payload: &[u8]) -> Option<String> {
    let cpp = peer::ChaincodeProposalPayload::decode(payload).ok()?;
    let spec = peer::ChaincodeInvocationSpec::decode(cpp.input.as_slice()).ok()?;
    let first = spec.chaincode_spec?.input?.args.into_iter().next()?;
    String::from_utf8(first).ok()
}

fn decode<M: Message + Default>(bytes: &[u8], what: &str) -> Result<M> {
    M::decode(bytes)
        .map_err(|e| NodeError::Rejected(format!("the peer's {what} could not be decoded: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upgrade_policy_travels_in_field_1002_and_bad_syntax_is_refused() {
        let d = Definition::new("basic", "1.0", 1)
            .with_upgrade_policy("AND('Org1MSP.admin','Org2MSP.admin')")
            .unwrap();
        let args = with_rollout(Vec::new(), &d);
        assert_eq!(
            upgrade_policy_of(&args).unwrap().as_deref(),
            Some("AND('Org1MSP.admin','Org2MSP.admin')")
        );
        let err = Definition::new("basic", "1.0", 1)
            .with_upgrade_policy("AND('Org1MSP.admin'")
            .unwrap_err()
            .to_string();
        assert!(err.contains("--upgrade-policy"), "{err}");
    }

    #[test]
    fn policies_encode_as_application_policies() {
        let d = Definition::new("basic", "1.0", 1)
            .with_signature_policy("AND('Org1MSP.peer','Org2MSP.peer')")
            .unwrap();
        let policy = peer::ApplicationPolicy::decode(d.validation_parameter.as_slice()).unwrap();
        assert!(matches!(
            policy.r#type,
            Some(application_policy::Type::SignaturePolicy(_))
        ));
        // People and scripts read it back in the policy language.
        assert_eq!(
            d.endorsement_policy(),
            "AND('Org1MSP.peer', 'Org2MSP.peer')"
        );
        let json = serde_json::to_value(&d).unwrap();
        assert_eq!(
            json["endorsement_policy"],
            "AND('Org1MSP.peer', 'Org2MSP.peer')"
        );
        assert_eq!(
            Definition::new("basic", "1.0", 1).endorsement_policy(),
            "/Channel/Application/Endorsement"
        );
        assert!(endorsement_policy_text(b"\xff\xff").starts_with("(unreadable: "));
        let d = Definition::new("basic", "1.0", 1)
            .with_channel_config_policy("/Channel/Application/Endorsement");
        let policy = peer::ApplicationPolicy::decode(d.validation_parameter.as_slice()).unwrap();
        assert_eq!(
            policy.r#type,
            Some(application_policy::Type::ChannelConfigPolicyReference(
                "/Channel/Application/Endorsement".into()
            ))
        );
        assert_eq!(
            Definition::new("basic", "1.0", 1)
                .with_channel_config_policy("/Channel/Application/Writers")
                .endorsement_policy(),
            "/Channel/Application/Writers"
        );
        let err = Definition::new("basic", "1.0", 1)
            .with_signature_policy("AND('Org1MSP.peer'")
            .unwrap_err();
        assert!(err.to_string().contains("--signature-policy"), "{err}");
    }

    #[test]
    fn the_called_function_is_read_back_from_a_proposal() {
        let tmp = tempfile::tempdir().unwrap();
        let crypto = cambium_cryptogen::generate(
            &cambium_cryptogen::CryptoConfig::default_network(),
            tmp.path(),
            cambium_cryptogen::GenerateOptions::default(),
        )
        .unwrap();
        let org = crypto.org("Org1MSP").unwrap();
        let signer = cambium_msp::load_signing_identity(&org.admin().msp_dir, "Org1MSP").unwrap();
        let p = client::signed_proposal(
            &signer,
            "mychannel",
            LIFECYCLE,
            vec![b"CommitChaincodeDefinition".to_vec(), vec![1, 2]],
        )
        .unwrap();
        assert_eq!(this_fn(&p), "CommitChaincodeDefinition");
        assert_eq!(p.view.channel_header.tx_id, p.tx_id);
    }
}

#[cfg(test)]
mod signing_tests {
    use cambium_channel::yaml::{self, LoadOptions};
    use cambium_channel::DEFAULT_CHANNEL_YAML;
    use cambium_cryptogen::{CryptoConfig, GenerateOptions, GeneratedNetwork, Role};
    use cambium_msp::load_signing_identity;
    use cambium_primitives::Policy;

    use super::*;

    fn identity(net: &GeneratedNetwork, msp_id: &str, role: Role) -> SigningIdentity {
        let org = net.org(msp_id).unwrap();
        let id = org
            .nodes
            .iter()
            .chain(&org.users)
            .find(|i| i.role == role)
            .unwrap();
        load_signing_identity(&id.msp_dir, msp_id).unwrap()
    }

    /// The sample channel over freshly generated crypto, requiring `policy` when given.
    fn channel(root: &std::path::Path, policy: Option<&str>) -> ChannelConfig {
        let mut spec = yaml::from_yaml(
            DEFAULT_CHANNEL_YAML,
            root,
            "the built-in channel",
            &LoadOptions::default(),
        )
        .unwrap();
        if let Some(dsl) = policy {
            spec.application.policies.insert(
                package_signing::POLICY_NAME.to_owned(),
                Policy::Signature(cambium_msp::policy::parse(dsl).unwrap()),
            );
        }
        ChannelConfig::from_spec(&spec).unwrap()
    }

    #[test]
    fn deploy_approve_and_upgrade_check_signatures_before_submitting() {
        let tmp = tempfile::tempdir().unwrap();
        let net = cambium_cryptogen::generate(
            &CryptoConfig::default_network(),
            &tmp.path().join("crypto"),
            GenerateOptions::default(),
        )
        .unwrap();
        let admin1 = identity(&net, "Org1MSP", Role::Admin);
        let admin2 = identity(&net, "Org2MSP", Role::Admin);
        let client2 = identity(&net, "Org2MSP", Role::Client);
        let now = admin1.certificate().not_before() + 3600;
        let requiring = channel(tmp.path(), Some("AND('Org1MSP.admin','Org2MSP.admin')"));
        let open = channel(tmp.path(), None);
        let unsigned = cambium_vm::package::write_package(b"\0asm\x01\0\0\0", "kv_1").unwrap();
        let sign = |p: &[u8], s: &SigningIdentity| package_signing::sign(p, s).unwrap();

        let err = check_package_signatures(&requiring, &unsigned, now)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing signatures from: Org1MSP.admin, Org2MSP.admin")
                && err.contains("cambium contract sign"),
            "{err}"
        );
        let member = sign(&sign(&unsigned, &admin1), &client2);
        let err = check_package_signatures(&requiring, &member, now)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing signatures from: Org2MSP.admin"),
            "{err}"
        );
        let both = sign(&sign(&unsigned, &admin1), &admin2);
        let signatures = check_package_signatures(&requiring, &both, now)
            .unwrap()
            .expect("signatures to send");
        assert_eq!(signatures.signatures.len(), 2);
        // Without the requirement: nothing to refuse, and signatures still travel.
        assert_eq!(
            check_package_signatures(&open, &unsigned, now).unwrap(),
            None
        );
        assert!(check_package_signatures(&open, &both, now)
            .unwrap()
            .is_some());

        // The file helpers behind `contract sign` and `contract inspect`.
        let file = tmp.path().join("kv_1.tar.gz");
        std::fs::write(&file, &unsigned).unwrap();
        let admin_dir = |msp: &str| {
            net.org(msp)
                .unwrap()
                .users
                .iter()
                .find(|i| i.role == Role::Admin)
                .unwrap()
                .msp_dir
                .clone()
        };
        let once = crate::deploy::sign_package_file(&file, "Org1MSP", &admin_dir("Org1MSP"), None)
            .unwrap();
        let twice = crate::deploy::sign_package_file(&file, "Org2MSP", &admin_dir("Org2MSP"), None)
            .unwrap();
        assert_eq!(once.package_hash, twice.package_hash);
        assert_ne!(once.package_id, twice.package_id);
        let signers: Vec<(&str, bool)> = twice
            .signers
            .iter()
            .map(|s| (s.msp_id.as_str(), s.valid))
            .collect();
        assert_eq!(signers, [("Org1MSP", true), ("Org2MSP", true)]);
        let on_disk = std::fs::read(&file).unwrap();
        assert!(check_package_signatures(&requiring, &on_disk, now).is_ok());
        let err = crate::deploy::sign_package_file(&file, "Org1MSP", tmp.path(), None)
            .unwrap_err()
            .to_string();
        assert!(err.contains("pass an admin's MSP folder"), "{err}");
    }
}
