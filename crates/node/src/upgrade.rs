//! `cambium contract upgrade` and `cambium contract rollout`: live upgrades of a committed
//! contract, client side.
//!
//! - [`upgrade`]: package → compatibility check against the committed definition's package →
//!   install on every peer of the profile → approve per organisation at the committed
//!   sequence + 1 (with an optional canary [`RolloutPlan`]) → commit; or, with `dry_run`, only
//!   the checks and an endorsement of the commit that is never submitted. Installing and
//!   approving is deploy's concurrent loop ([`crate::deploy`]); on a channel that requires
//!   signed packages the package's owner signatures are checked first and sent with each
//!   approval.
//! - [`RolloutStep`], [`crate::admin::Admin::rollout_step`] and
//!   [`crate::admin::Admin::query_rollout`]: the `_lifecycle` functions `QueryRollout`,
//!   `AdvanceRollout`, `PauseRollout`, `ResumeRollout`, `PromoteRollout` and `AbortRollout`.
//! - [`compat_against_committed`] and [`refuse_breaking`]: the guard `approve`, `deploy` and
//!   `upgrade` share (a breaking interface change needs `--allow-breaking`).
//!
//! The Cambium extension messages (`cambium.lifecycle.RolloutPlan`, `RolloutStepArgs`,
//! `RolloutStatus`, `RolloutExtension`) come from `cambium-wire`; this module converts them to
//! and from the plain types here.

use std::collections::BTreeMap;
use std::time::Instant;

use cambium_vm::compat::CompatReport;
use cambium_vm::package::read_package;
use cambium_vm::{Manifest, Vm};
use cambium_wire::cambium_lifecycle as pb;
use cambium_wire::Message;
use serde::Serialize;

use crate::admin::{Admin, Committed, Definition};
use crate::deploy::Step;
use crate::error::{NodeError, Result};
use crate::profile::ConnectionProfile;

/// The protobuf field number of the rollout plan appended to Fabric's approve, readiness and
/// commit arguments (and to the approved/committed definition query results).
pub const ROLLOUT_FIELD: u32 = 1001;

/// Where a rollout stands (`cambium.lifecycle.RolloutState`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RolloutState {
    /// Routing by selectors and weight; the weight may be advanced.
    #[default]
    Active,
    /// Routing as when active; the weight is frozen until resumed.
    Paused,
    /// Promoted: every transaction gets the new version.
    Complete,
    /// Aborted: every transaction gets the previous version.
    Aborted,
}

impl RolloutState {
    /// The protobuf enum name, e.g. `ACTIVE`.
    pub fn name(self) -> &'static str {
        match self {
            RolloutState::Active => "ACTIVE",
            RolloutState::Paused => "PAUSED",
            RolloutState::Complete => "COMPLETE",
            RolloutState::Aborted => "ABORTED",
        }
    }

    fn to_wire(self) -> pb::RolloutState {
        match self {
            RolloutState::Active => pb::RolloutState::Active,
            RolloutState::Paused => pb::RolloutState::Paused,
            RolloutState::Complete => pb::RolloutState::Complete,
            RolloutState::Aborted => pb::RolloutState::Aborted,
        }
    }

    fn from_wire(n: i32) -> Result<RolloutState> {
        Ok(match pb::RolloutState::try_from(n) {
            Ok(pb::RolloutState::Active) => RolloutState::Active,
            Ok(pb::RolloutState::Paused) => RolloutState::Paused,
            Ok(pb::RolloutState::Complete) => RolloutState::Complete,
            Ok(pb::RolloutState::Aborted) => RolloutState::Aborted,
            Err(_) => {
                return Err(malformed(format!(
                    "rollout state {n} is not ACTIVE (0), PAUSED (1), COMPLETE (2) or ABORTED (3)"
                )))
            }
        })
    }
}

/// A canary rollout plan (`cambium.lifecycle.RolloutPlan`): which transactions the new
/// definition serves while the previous one serves the rest.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RolloutPlan {
    /// Share (0–100) of the transactions not matched by a selector that get the new version.
    pub weight_percent: u32,
    /// MSP IDs whose clients get the new version.
    pub orgs: Vec<String>,
    /// Client identities (hex SHA-256 of their serialized identity) that get the new version.
    pub clients: Vec<String>,
    /// Organisational units whose members get the new version.
    pub ous: Vec<String>,
    /// Where the rollout stands.
    pub state: RolloutState,
}

/// One `--selector`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Selector {
    /// `org=MSPID`: that organisation's clients.
    Org(String),
    /// `client=HEX`: one client identity (hex SHA-256 of its serialized identity).
    Client(String),
    /// `ou=NAME`: members of an organisational unit.
    Ou(String),
}

/// Parses a canary weight such as `10%` or `10`; refuses anything outside 0–100.
pub fn parse_weight(text: &str) -> Result<u32> {
    let number = text.trim().strip_suffix('%').unwrap_or(text.trim()).trim();
    let weight: u64 = number.parse().map_err(|_| {
        NodeError::Rejected(format!(
            "canary weight '{text}' is not a percentage; give a whole number from 0 to 100, e.g. 10%"
        ))
    })?;
    if weight > 100 {
        return Err(NodeError::Rejected(format!(
            "canary weight {weight}% is outside 0-100%; give a percentage between 0 and 100"
        )));
    }
    Ok(weight as u32)
}

/// Parses a `--selector`: `org=Org1MSP`, `client=<64 hex digits>` or `ou=<unit>`.
pub fn parse_selector(text: &str) -> Result<Selector> {
    let bad = |why: &str| {
        NodeError::Rejected(format!(
            "selector '{text}' {why}; use org=MSPID (e.g. org=Org1MSP), client=SHA256HEX or ou=UNIT"
        ))
    };
    let (kind, value) = text.split_once('=').ok_or_else(|| bad("has no '='"))?;
    let value = value.trim();
    if value.is_empty() {
        return Err(bad("has an empty value"));
    }
    match kind.trim() {
        "org" => Ok(Selector::Org(value.to_owned())),
        "client" => {
            let hex = value.len() == 64 && value.bytes().all(|b| b.is_ascii_hexdigit());
            if !hex {
                return Err(bad(
                    "does not name a client by the 64 hex digits of the SHA-256 of its serialized identity",
                ));
            }
            Ok(Selector::Client(value.to_ascii_lowercase()))
        }
        "ou" => Ok(Selector::Ou(value.to_owned())),
        other => Err(bad(&format!("has an unknown kind '{other}'"))),
    }
}

/// The plan of `--canary` and `--selector` flags; `None` when neither is given (the upgrade
/// then switches every transaction at once).
pub fn plan_from_flags(canary: Option<&str>, selectors: &[String]) -> Result<Option<RolloutPlan>> {
    if canary.is_none() && selectors.is_empty() {
        return Ok(None);
    }
    let mut plan = RolloutPlan {
        weight_percent: canary.map(parse_weight).transpose()?.unwrap_or(0),
        ..RolloutPlan::default()
    };
    for text in selectors {
        match parse_selector(text)? {
            Selector::Org(o) => push_unique(&mut plan.orgs, o),
            Selector::Client(c) => push_unique(&mut plan.clients, c),
            Selector::Ou(u) => push_unique(&mut plan.ous, u),
        }
    }
    Ok(Some(plan))
}

fn push_unique(list: &mut Vec<String>, item: String) {
    if !list.contains(&item) {
        list.push(item);
    }
}

impl RolloutPlan {
    /// The wire message.
    pub fn to_wire(&self) -> pb::RolloutPlan {
        pb::RolloutPlan {
            weight_percent: self.weight_percent,
            orgs: self.orgs.clone(),
            clients: self.clients.clone(),
            ous: self.ous.clone(),
            state: self.state.to_wire() as i32,
        }
    }

    /// From the wire message; an unknown state is an error.
    pub fn from_wire(plan: pb::RolloutPlan) -> Result<RolloutPlan> {
        Ok(RolloutPlan {
            weight_percent: plan.weight_percent,
            orgs: plan.orgs,
            clients: plan.clients,
            ous: plan.ous,
            state: RolloutState::from_wire(plan.state)?,
        })
    }

    /// The `cambium.lifecycle.RolloutPlan` bytes.
    pub fn encode(&self) -> Vec<u8> {
        self.to_wire().encode_to_vec()
    }

    /// Decodes `cambium.lifecycle.RolloutPlan` bytes.
    pub fn decode(bytes: &[u8]) -> Result<RolloutPlan> {
        RolloutPlan::from_wire(
            pb::RolloutPlan::decode(bytes).map_err(|e| malformed(e.to_string()))?,
        )
    }

    /// This plan as extension field [`ROLLOUT_FIELD`] (`cambium.lifecycle.RolloutExtension`),
    /// ready to append to encoded Fabric arguments.
    pub fn extension(&self) -> Vec<u8> {
        pb::RolloutExtension {
            rollout: Some(self.to_wire()),
        }
        .encode_to_vec()
    }

    /// The plan carried at field [`ROLLOUT_FIELD`] of an encoded message, if any.
    pub fn from_extension(message: &[u8]) -> Result<Option<RolloutPlan>> {
        pb::RolloutExtension::decode(message)
            .map_err(|e| malformed(e.to_string()))?
            .rollout
            .map(RolloutPlan::from_wire)
            .transpose()
    }

    /// A one-line description, e.g. `10% of transactions + orgs Org1MSP (ACTIVE)`.
    pub fn describe(&self) -> String {
        let mut parts = vec![format!("{}% of transactions", self.weight_percent)];
        if !self.orgs.is_empty() {
            parts.push(format!("orgs {}", self.orgs.join(",")));
        }
        if !self.clients.is_empty() {
            parts.push(format!("{} client(s)", self.clients.len()));
        }
        if !self.ous.is_empty() {
            parts.push(format!("OUs {}", self.ous.join(",")));
        }
        format!("{} ({})", parts.join(" + "), self.state.name())
    }
}

/// A contract's rollout (`cambium.lifecycle.RolloutStatus`): what every step and
/// `QueryRollout` return.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RolloutStatus {
    /// The contract name.
    pub name: String,
    /// The sequence of the definition being rolled out (the current one).
    pub sequence: i64,
    /// Its version.
    pub version: String,
    /// The sequence of the definition it replaces.
    pub previous_sequence: i64,
    /// Its version.
    pub previous_version: String,
    /// The plan and its state; `None` if the current definition was committed without one.
    pub plan: Option<RolloutPlan>,
}

impl RolloutStatus {
    /// Decodes `cambium.lifecycle.RolloutStatus` bytes.
    pub fn decode(bytes: &[u8]) -> Result<RolloutStatus> {
        let s = pb::RolloutStatus::decode(bytes).map_err(|e| malformed(e.to_string()))?;
        Ok(RolloutStatus {
            name: s.name,
            sequence: s.sequence,
            version: s.version,
            previous_sequence: s.previous_sequence,
            previous_version: s.previous_version,
            plan: s.plan.map(RolloutPlan::from_wire).transpose()?,
        })
    }

    /// The `cambium.lifecycle.RolloutStatus` bytes.
    pub fn encode(&self) -> Vec<u8> {
        pb::RolloutStatus {
            name: self.name.clone(),
            sequence: self.sequence,
            version: self.version.clone(),
            previous_sequence: self.previous_sequence,
            previous_version: self.previous_version.clone(),
            plan: self.plan.as_ref().map(RolloutPlan::to_wire),
        }
        .encode_to_vec()
    }
}

/// A `cambium contract rollout` action and its `_lifecycle` function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RolloutStep {
    /// `QueryRollout` (a query: nothing is submitted).
    Status,
    /// `AdvanceRollout` to this weight.
    Advance(u32),
    /// `PauseRollout`.
    Pause,
    /// `ResumeRollout`.
    Resume,
    /// `PromoteRollout`: every transaction to the new version.
    Promote,
    /// `AbortRollout`: every transaction back to the previous version.
    Abort,
}

impl RolloutStep {
    /// The `_lifecycle` function name.
    pub fn function(&self) -> &'static str {
        match self {
            RolloutStep::Status => "QueryRollout",
            RolloutStep::Advance(_) => "AdvanceRollout",
            RolloutStep::Pause => "PauseRollout",
            RolloutStep::Resume => "ResumeRollout",
            RolloutStep::Promote => "PromoteRollout",
            RolloutStep::Abort => "AbortRollout",
        }
    }

    /// The weight the step carries (0 except for `Advance`).
    pub fn weight(&self) -> u32 {
        match self {
            RolloutStep::Advance(w) => *w,
            _ => 0,
        }
    }
}

/// The `cambium.lifecycle.RolloutStepArgs` bytes for `name` (and `weight_percent`, for
/// `AdvanceRollout`).
pub fn step_args(name: &str, weight_percent: u32) -> Vec<u8> {
    pb::RolloutStepArgs {
        name: name.to_owned(),
        weight_percent,
    }
    .encode_to_vec()
}

fn malformed(reason: String) -> NodeError {
    NodeError::Rejected(format!(
        "the peer's rollout message cannot be decoded: {reason}; is the peer a Cambium peer of the same release?"
    ))
}

/// What the compatibility guard found about the committed definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CompatCheck {
    /// Nothing is committed under the name yet: nothing to be compatible with.
    FirstDefinition,
    /// Compared with the committed definition's package.
    Compared {
        /// The committed sequence.
        sequence: i64,
        /// The package ID the local organisations approved for it.
        package_id: String,
        /// The differences.
        report: CompatReport,
    },
    /// The comparison could not be made; why.
    Unknown {
        /// Why (e.g. no local organisation approved the committed sequence with a package).
        reason: String,
    },
}

/// The interface manifest of a package (`None` for a module without one).
pub fn package_manifest(package: &[u8]) -> Result<Option<Manifest>> {
    let wasm = read_package(package)
        .map_err(|e| NodeError::Package(format!("not a contract package: {e}")))?
        .wasm;
    Vm::validate(&wasm).map_err(|e| NodeError::Package(format!("the package's module: {e}")))
}

/// Compares `new_package` with the package of `name`'s committed definition, as the first of
/// `admins` whose organisation approved that definition with a package installed on its peer
/// has it.
pub async fn compat_against_committed(
    admins: &[Admin],
    name: &str,
    new_package: &[u8],
) -> Result<CompatCheck> {
    let Some(first) = admins.first() else {
        return Ok(CompatCheck::Unknown {
            reason: "no organisation to ask".to_owned(),
        });
    };
    let peer = first.peer_name(None)?;
    let sequence = first.committed_sequence(&peer, name).await?;
    if sequence == 0 {
        return Ok(CompatCheck::FirstDefinition);
    }
    let mut reasons = Vec::new();
    for admin in admins {
        let peer = admin.peer_name(None)?;
        let approved = match admin.query_approved(&peer, name, Some(sequence)).await {
            Ok(a) => a,
            Err(e) => {
                reasons.push(format!("{}: {e}", admin.org));
                continue;
            }
        };
        let Some(id) = approved.package_id else {
            reasons.push(format!(
                "{} approved sequence {sequence} without a package",
                admin.org
            ));
            continue;
        };
        let old = match admin.get_installed_package(&peer, &id).await {
            Ok(bytes) => bytes,
            Err(e) => {
                reasons.push(format!("{}: package {id} is not on {peer}: {e}", admin.org));
                continue;
            }
        };
        let (old_manifest, new_manifest) =
            (package_manifest(&old)?, package_manifest(new_package)?);
        return Ok(match (old_manifest, new_manifest) {
            (Some(old), Some(new)) => CompatCheck::Compared {
                sequence,
                package_id: id,
                report: cambium_vm::check_compat(&old, &new),
            },
            (None, _) => CompatCheck::Unknown {
                reason: format!("the committed package {id} has no interface manifest"),
            },
            (_, None) => CompatCheck::Unknown {
                reason: "the new package has no interface manifest".to_owned(),
            },
        });
    }
    Ok(CompatCheck::Unknown {
        reason: format!(
            "the committed package of '{name}' sequence {sequence} could not be read ({})",
            reasons.join("; ")
        ),
    })
}

/// Refuses a breaking change unless `allow_breaking`: the error names each breaking change and
/// the flag.
pub fn refuse_breaking(check: &CompatCheck, allow_breaking: bool) -> Result<()> {
    let CompatCheck::Compared {
        sequence, report, ..
    } = check
    else {
        return Ok(());
    };
    if !report.is_breaking() || allow_breaking {
        return Ok(());
    }
    let changes: Vec<String> = report
        .breaking_changes()
        .iter()
        .map(|c| format!("  - {c}"))
        .collect();
    Err(NodeError::Rejected(format!(
        "the new package breaks the interface of the committed definition (sequence {sequence}):\n{}\npass --allow-breaking to approve it anyway, after making sure every client is ready",
        changes.join("\n")
    )))
}

/// What to upgrade and how.
#[derive(Clone, Debug, Default)]
pub struct UpgradeOptions {
    /// The contract's name on the channel.
    pub name: String,
    /// The new definition's version (default: the package label).
    pub version: Option<String>,
    /// A new signature endorsement policy (default: keep the committed one).
    pub signature_policy: Option<String>,
    /// A canary rollout plan (default: switch every transaction at once).
    pub plan: Option<RolloutPlan>,
    /// A new upgrade policy for the definition (default: keep the committed one).
    pub upgrade_policy: Option<String>,
    /// Approve even if the interface check finds breaking changes.
    pub allow_breaking: bool,
    /// Only check and endorse the commit; submit nothing.
    pub dry_run: bool,
    /// The channel (default: the profile's).
    pub channel: Option<String>,
}

/// The read/write set of one namespace in an endorsed result.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NamespaceSize {
    /// Keys read.
    pub reads: usize,
    /// Range queries.
    pub range_queries: usize,
    /// Keys written (or deleted).
    pub writes: usize,
    /// Bytes of the values written.
    pub write_bytes: usize,
}

/// What a dry run found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DryRun {
    /// Which organisations have approved the new definition (Fabric's approvals).
    pub approvals: BTreeMap<String, bool>,
    /// The peers that endorsed the commit.
    pub endorsed_by: Vec<String>,
    /// The commit's read/write set by namespace (the contract's own namespace holds the
    /// migration's writes); empty when the commit could not be endorsed.
    pub rwset: BTreeMap<String, NamespaceSize>,
    /// Why the commit could not be endorsed now (e.g. approvals missing), if so.
    pub refused: Option<String>,
    /// The endorsed response's message (where a peer reports the migration's fuel).
    pub message: String,
    /// Size in bytes of the signed commit transaction (0 when it could not be endorsed).
    pub transaction_bytes: usize,
    /// The channel's `AbsoluteMaxBytes`: Broadcast refuses a larger transaction.
    pub absolute_max_bytes: u32,
}

impl DryRun {
    /// Why the orderer would refuse the commit transaction for its size, if it would.
    pub fn too_large(&self) -> Option<String> {
        (self.transaction_bytes > self.absolute_max_bytes as usize).then(|| {
            format!(
                "the commit transaction is {} bytes, over the channel's AbsoluteMaxBytes of {} \
                 bytes, so the orderer would refuse it; raise the limit first with `cambium \
                 channel update --absolute-max-bytes N` (signed by the orderer organisations' \
                 admins)",
                self.transaction_bytes, self.absolute_max_bytes
            )
        })
    }
}

/// What an upgrade did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct UpgradeReport {
    /// The definition it committed (or would commit).
    pub definition: Definition,
    /// The committed definition it replaces.
    pub previous: Definition,
    /// The new package ID.
    pub package_id: String,
    /// The interface check against the committed package.
    pub compat: CompatCheck,
    /// Peers the package was installed on now.
    pub installed: Vec<String>,
    /// Peers that had it already.
    pub already_installed: Vec<String>,
    /// Organisations that approved.
    pub approved: Vec<String>,
    /// The commit transaction (`None` on a dry run).
    pub commit: Option<Committed>,
    /// The dry run's findings (`None` unless `dry_run`).
    pub dry_run: Option<DryRun>,
    /// Wall time from the first query to the end, ms.
    pub elapsed_ms: u64,
}

/// Checks a plan's org selectors against the channel's orgs (the keys of Fabric's approvals
/// map, which lists every application org).
pub fn check_plan_orgs(plan: &RolloutPlan, channel_orgs: &BTreeMap<String, bool>) -> Result<()> {
    if let Some(unknown) = plan.orgs.iter().find(|o| !channel_orgs.contains_key(*o)) {
        let known: Vec<&str> = channel_orgs.keys().map(String::as_str).collect();
        return Err(NodeError::Rejected(format!(
            "--selector org={unknown} names an organisation that is not on the channel (orgs: {}); select one of those MSP IDs",
            known.join(", ")
        )));
    }
    Ok(())
}

/// Upgrades `options.name` to `package` on every organisation of `profile`; see the module
/// docs. Reports each step to `progress`.
pub async fn upgrade(
    profile: &ConnectionProfile,
    package: &[u8],
    options: &UpgradeOptions,
    progress: &(dyn Fn(&Step) + Sync),
) -> Result<UpgradeReport> {
    let (label, id) = crate::deploy::package_label_and_id(package)?;
    let started = Instant::now();
    let admins = crate::deploy::org_admins(profile, options.channel.as_deref())?;
    let first = &admins[0];
    let first_peer = first.peer_name(None)?;

    let previous = match first
        .query_committed(&first_peer, Some(&options.name))
        .await
    {
        Ok(defs) => defs.into_iter().next().map(|d| d.definition),
        Err(NodeError::Rejected(m)) if m.contains("status 404") => None,
        Err(e) => return Err(e),
    };
    let previous = previous.ok_or_else(|| {
        NodeError::Rejected(format!(
            "'{}' has no committed definition on {}; deploy its first version with `cambium contract deploy`",
            options.name, first.channel_id
        ))
    })?;
    let sequence = previous.sequence + 1;
    progress(&Step::Sequence(sequence));
    let mut definition = Definition {
        name: options.name.clone(),
        version: options.version.clone().unwrap_or_else(|| label.clone()),
        sequence,
        validation_parameter: previous.validation_parameter.clone(),
        init_required: previous.init_required,
        rollout: options.plan.clone(),
        upgrade_policy: previous.upgrade_policy.clone(),
    };
    if let Some(policy) = &options.signature_policy {
        definition = definition.with_signature_policy(policy)?;
    }
    if let Some(policy) = &options.upgrade_policy {
        definition = definition.with_upgrade_policy(policy)?;
    }

    let compat = compat_against_committed(&admins, &options.name, package).await?;
    refuse_breaking(&compat, options.allow_breaking)?;
    progress(&Step::Checked {
        breaking: matches!(&compat, CompatCheck::Compared { report, .. } if report.is_breaking()),
    });

    // The channel's orgs, for the selector check, before anything changes.
    let approvals_before = first
        .check_commit_readiness(
            &first_peer,
            &Definition {
                rollout: None,
                ..definition.clone()
            },
        )
        .await?;
    if let Some(plan) = &definition.rollout {
        check_plan_orgs(plan, &approvals_before)?;
    }

    let endorsers = admins
        .iter()
        .map(|a| a.peer_name(None))
        .collect::<Result<Vec<_>>>()?;

    // Owner signatures, checked against the channel's requirement before anything changes.
    let signatures = first.package_signatures(&first_peer, package).await?;

    if options.dry_run {
        let dry = dry_run(first, &first_peer, &endorsers, &definition).await?;
        return Ok(UpgradeReport {
            definition,
            previous,
            package_id: id,
            compat,
            installed: Vec::new(),
            already_installed: Vec::new(),
            approved: Vec::new(),
            commit: None,
            dry_run: Some(dry),
            elapsed_ms: elapsed_ms(started),
        });
    }

    let crate::deploy::Installs {
        installed,
        already_installed,
        approved,
    } = crate::deploy::install_and_approve(
        profile,
        &admins,
        package,
        &id,
        &definition,
        signatures.as_ref(),
        progress,
    )
    .await?;
    let commit = first.commit(&endorsers, &definition).await?;
    // Return once every endorser serves the new definition, so the next command sees it.
    first
        .wait_for_sequence(&endorsers, &options.name, sequence)
        .await?;
    progress(&Step::Committed);
    Ok(UpgradeReport {
        definition,
        previous,
        package_id: id,
        compat,
        installed,
        already_installed,
        approved,
        commit: Some(commit),
        dry_run: None,
        elapsed_ms: elapsed_ms(started),
    })
}

fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// Endorses the commit of `definition` without submitting it; a refusal (approvals missing,
/// a failing migration) is reported, not returned as an error.
async fn dry_run(
    admin: &Admin,
    peer: &str,
    endorsers: &[String],
    definition: &Definition,
) -> Result<DryRun> {
    let mut dry = DryRun {
        approvals: admin.check_commit_readiness(peer, definition).await?,
        absolute_max_bytes: admin
            .channel_config(peer)
            .await?
            .batch_size()
            .absolute_max_bytes,
        ..DryRun::default()
    };
    match admin.endorse_commit(endorsers, definition).await {
        Ok((responses, transaction_bytes)) => {
            dry.transaction_bytes = transaction_bytes;
            dry.endorsed_by = responses.iter().map(|(p, _)| p.clone()).collect();
            if let Some((_, first)) = responses.first() {
                dry.message = first
                    .response
                    .as_ref()
                    .map(|r| r.message.clone())
                    .unwrap_or_default();
                dry.rwset = rwset_sizes(&first.payload)?;
            }
        }
        Err(e) => dry.refused = Some(e.to_string()),
    }
    Ok(dry)
}

/// The read/write set sizes in a `ProposalResponsePayload`.
pub fn rwset_sizes(payload: &[u8]) -> Result<BTreeMap<String, NamespaceSize>> {
    use cambium_wire::{kvrwset, peer, rwset};
    let undecodable = |what: &str, e: &dyn std::fmt::Display| {
        NodeError::Rejected(format!("the endorsement's {what} cannot be decoded: {e}"))
    };
    let prp = peer::ProposalResponsePayload::decode(payload)
        .map_err(|e| undecodable("ProposalResponsePayload", &e))?;
    let action = peer::ChaincodeAction::decode(prp.extension.as_slice())
        .map_err(|e| undecodable("ChaincodeAction", &e))?;
    let tx = rwset::TxReadWriteSet::decode(action.results.as_slice())
        .map_err(|e| undecodable("TxReadWriteSet", &e))?;
    let mut out = BTreeMap::new();
    for ns in tx.ns_rwset {
        let kv = kvrwset::KvrwSet::decode(ns.rwset.as_slice())
            .map_err(|e| undecodable("KVRWSet", &e))?;
        out.insert(
            ns.namespace,
            NamespaceSize {
                reads: kv.reads.len(),
                range_queries: kv.range_queries_info.len(),
                writes: kv.writes.len(),
                write_bytes: kv.writes.iter().map(|w| w.value.len()).sum(),
            },
        );
    }
    Ok(out)
}

/// What a rollout command did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RolloutOutcome {
    /// The `_lifecycle` function called.
    pub function: String,
    /// The step's transaction (`None` for `status`).
    pub commit: Option<Committed>,
    /// The rollout after the step.
    pub status: RolloutStatus,
}

/// Runs `step` on `name` as `admin`: a query for [`RolloutStep::Status`], else a transaction
/// endorsed by the first peer of every organisation in the profile (the default `RolloutPromote`
/// policy is a majority of the orgs' endorsements).
pub async fn rollout(
    admin: &Admin,
    peer: &str,
    name: &str,
    step: &RolloutStep,
) -> Result<RolloutOutcome> {
    if let RolloutStep::Advance(w) = step {
        if *w > 100 {
            return Err(NodeError::Rejected(format!(
                "weight {w}% is outside 0-100%; give a percentage between 0 and 100"
            )));
        }
    }
    if matches!(step, RolloutStep::Status) {
        let status = admin.query_rollout(peer, name).await?;
        return Ok(RolloutOutcome {
            function: step.function().to_owned(),
            commit: None,
            status,
        });
    }
    let endorsers = admin
        .profile
        .organizations
        .keys()
        .map(|org| Ok(admin.profile.peer_of(org, None)?.0.to_owned()))
        .collect::<Result<Vec<_>>>()?;
    let (commit, status) = admin.rollout_step(&endorsers, name, step).await?;
    Ok(RolloutOutcome {
        function: step.function().to_owned(),
        commit: Some(commit),
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dry_run_says_when_the_commit_would_be_too_large_to_order() {
        let fits = DryRun {
            transaction_bytes: 1_000,
            absolute_max_bytes: 1_000,
            ..DryRun::default()
        };
        assert_eq!(fits.too_large(), None);
        let over = DryRun {
            transaction_bytes: 1_001,
            ..fits
        };
        let why = over.too_large().expect("over the limit");
        assert!(
            why.contains("1001 bytes, over the channel's AbsoluteMaxBytes of 1000")
                && why.contains("cambium channel update --absolute-max-bytes"),
            "{why}"
        );
    }

    #[test]
    fn weights_are_percentages_from_0_to_100() {
        assert_eq!(parse_weight("10%").unwrap(), 10);
        assert_eq!(parse_weight(" 0 ").unwrap(), 0);
        assert_eq!(parse_weight("100%").unwrap(), 100);
        let e = parse_weight("150%").unwrap_err().to_string();
        assert!(e.contains("150% is outside 0-100%"), "{e}");
        let e = parse_weight("ten").unwrap_err().to_string();
        assert!(e.contains("'ten' is not a percentage"), "{e}");
        assert!(parse_weight("-5%").is_err());
        assert!(parse_weight("12.5%").is_err());
    }

    #[test]
    fn selectors_name_orgs_clients_or_ous() {
        assert_eq!(
            parse_selector("org=Org1MSP").unwrap(),
            Selector::Org("Org1MSP".into())
        );
        assert_eq!(
            parse_selector("ou=dept1").unwrap(),
            Selector::Ou("dept1".into())
        );
        let hex = "AB".repeat(32);
        assert_eq!(
            parse_selector(&format!("client={hex}")).unwrap(),
            Selector::Client("ab".repeat(32))
        );
        for (bad, says) in [
            ("Org1MSP", "has no '='"),
            ("org=", "empty value"),
            ("team=x", "unknown kind 'team'"),
            ("client=abc", "64 hex digits"),
        ] {
            let e = parse_selector(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
            assert!(e.contains("use org=MSPID"), "{e}");
        }
    }

    #[test]
    fn flags_become_a_plan_or_none() {
        assert_eq!(plan_from_flags(None, &[]).unwrap(), None);
        let plan = plan_from_flags(
            Some("10%"),
            &["org=Org1MSP".into(), "org=Org1MSP".into(), "ou=ops".into()],
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            plan,
            RolloutPlan {
                weight_percent: 10,
                orgs: vec!["Org1MSP".into()],
                clients: vec![],
                ous: vec!["ops".into()],
                state: RolloutState::Active,
            }
        );
        assert_eq!(
            plan.describe(),
            "10% of transactions + orgs Org1MSP + OUs ops (ACTIVE)"
        );
        let only_selector = plan_from_flags(None, &["org=Org2MSP".into()])
            .unwrap()
            .unwrap();
        assert_eq!(only_selector.weight_percent, 0);
        assert!(plan_from_flags(Some("101"), &[]).is_err());
        assert!(plan_from_flags(None, &["bogus".into()]).is_err());
    }

    /// The encoding, byte for byte, as protoc would write `cambium.lifecycle.RolloutPlan`.
    #[test]
    fn plans_encode_as_the_protobuf_message() {
        let plan = RolloutPlan {
            weight_percent: 30,
            orgs: vec!["Org1MSP".into()],
            clients: vec![],
            ous: vec!["a".into()],
            state: RolloutState::Paused,
        };
        let bytes = plan.encode();
        let mut expected = vec![0x08, 30, 0x12, 7];
        expected.extend(b"Org1MSP");
        expected.extend([0x22, 1, b'a', 0x28, 1]);
        assert_eq!(bytes, expected);
        assert_eq!(RolloutPlan::decode(&bytes).unwrap(), plan);
        // Defaults are omitted (proto3): the empty plan is empty.
        assert!(RolloutPlan::default().encode().is_empty());

        // Field 1001, wire type 2: key 8010 = varint [0xca, 0x3e].
        let ext = plan.extension();
        assert_eq!(&ext[..3], &[0xca, 0x3e, bytes.len() as u8]);
        let mut fabric_args = vec![0x08, 2, 0x12, 5];
        fabric_args.extend(b"basic");
        let mut with = fabric_args.clone();
        with.extend(&ext);
        assert_eq!(
            RolloutPlan::from_extension(&with).unwrap(),
            Some(plan.clone())
        );
        assert_eq!(RolloutPlan::from_extension(&fabric_args).unwrap(), None);
        // Fabric's own decoder still reads the arguments and skips the extension.
        let decoded =
            cambium_wire::lifecycle::CommitChaincodeDefinitionArgs::decode(with.as_slice())
                .unwrap();
        assert_eq!((decoded.sequence, decoded.name.as_str()), (2, "basic"));
    }

    #[test]
    fn statuses_and_step_args_round_trip() {
        let status = RolloutStatus {
            name: "basic".into(),
            sequence: 3,
            version: "2.0".into(),
            previous_sequence: 2,
            previous_version: "1.0".into(),
            plan: Some(RolloutPlan {
                weight_percent: 100,
                state: RolloutState::Complete,
                ..RolloutPlan::default()
            }),
        };
        assert_eq!(RolloutStatus::decode(&status.encode()).unwrap(), status);
        assert_eq!(step_args("cc", 0), [0x0a, 2, b'c', b'c']);
        assert_eq!(step_args("cc", 40), [0x0a, 2, b'c', b'c', 0x10, 40]);
        assert_eq!(RolloutStep::Advance(40).function(), "AdvanceRollout");
        assert_eq!(RolloutStep::Abort.function(), "AbortRollout");
        assert_eq!(RolloutStep::Status.function(), "QueryRollout");
        let e = RolloutPlan::decode(&[0x28, 9]).unwrap_err().to_string();
        assert!(e.contains("rollout state 9"), "{e}");
        assert!(RolloutStatus::decode(&[0x0a, 5, b'x']).is_err());
    }

    #[test]
    fn selector_orgs_must_be_channel_orgs() {
        let channel: BTreeMap<String, bool> =
            [("Org1MSP".to_owned(), false), ("Org2MSP".to_owned(), true)].into();
        let ok = plan_from_flags(None, &["org=Org2MSP".into()])
            .unwrap()
            .unwrap();
        check_plan_orgs(&ok, &channel).unwrap();
        let bad = plan_from_flags(None, &["org=Org9MSP".into()])
            .unwrap()
            .unwrap();
        let e = check_plan_orgs(&bad, &channel).unwrap_err().to_string();
        assert!(e.contains("org=Org9MSP"), "{e}");
        assert!(e.contains("orgs: Org1MSP, Org2MSP"), "{e}");
    }

    fn report(old: &str, new: &str) -> CompatReport {
        cambium_vm::check_compat(
            &Manifest::parse(old).unwrap(),
            &Manifest::parse(new).unwrap(),
        )
    }

    #[test]
    fn breaking_changes_are_refused_without_the_flag() {
        let check = CompatCheck::Compared {
            sequence: 4,
            package_id: "x:1".into(),
            report: report(
                "cambium-manifest 1\nschema 1\nfn A\nfn B x:i64\n",
                "cambium-manifest 1\nschema 2\nfn B x:string\n",
            ),
        };
        let e = refuse_breaking(&check, false).unwrap_err().to_string();
        assert!(e.contains("sequence 4"), "{e}");
        assert!(e.contains("  - function A is removed"), "{e}");
        assert!(
            e.contains("  - function B changes its arguments from (x:i64) to (x:string)"),
            "{e}"
        );
        assert!(
            e.contains("schema changes from 1 to 2 without a migration"),
            "{e}"
        );
        assert!(e.contains("--allow-breaking"), "{e}");
        refuse_breaking(&check, true).unwrap();
        let fine = CompatCheck::Compared {
            sequence: 4,
            package_id: "x:1".into(),
            report: report(
                "cambium-manifest 1\nschema 1\nfn A\n",
                "cambium-manifest 1\nschema 1\nfn A\nfn C\n",
            ),
        };
        refuse_breaking(&fine, false).unwrap();
        refuse_breaking(&CompatCheck::FirstDefinition, false).unwrap();
        refuse_breaking(&CompatCheck::Unknown { reason: "x".into() }, false).unwrap();
    }
}
