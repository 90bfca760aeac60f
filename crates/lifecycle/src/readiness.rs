//! Ready at commit: which orgs can endorse a definition the moment it commits, and whether
//! those orgs alone can satisfy its endorsement policy.
//!
//! An org is **ready** for a definition when it approved exactly these parameters *with a
//! local package*. In Cambium that proves its endorsing peers hold the package compiled:
//! approve refuses a package that is not installed on the endorsing peer, and install
//! compiles the module before it answers. An org that approved without a package
//! (`unavailable`), approved other parameters or did not approve is not ready.
//!
//! [`orgs_satisfy`] evaluates an endorsement policy structurally over a set of ready orgs, as
//! if one peer of each ready org endorsed:
//!
//! - a signature policy leaf naming an MSP role (`member`, `peer`, `admin`, `client`) or an
//!   OU is satisfied by a ready org of that MSP; a leaf naming an orderer role or one exact
//!   identity is never counted (no endorsing peer can be assumed to hold it). Distinct leaves
//!   naming the same org are all satisfied by it (an org may run several peers).
//! - a channel policy reference is resolved in the channel's policy tree: a signature policy
//!   as above, an implicit meta policy (`ANY`, `ALL`, `MAJORITY <Sub>`) over the same-named
//!   policies of the child groups, with Fabric's thresholds (1, all, more than half).
//!
//! The result is carried to clients in two ways: Fabric's `approvals` map keeps its meaning
//! (approved these parameters), and the Cambium extension [`ReadinessReport`] is appended to
//! `CheckCommitReadinessResult` and `QueryChaincodeDefinitionResult` as field
//! [`READINESS_FIELD`]; Fabric clients skip the unknown field, Cambium tools decode it with
//! [`report_from_result`]. The messages are `cambium.lifecycle.ReadinessReport` and
//! `OrgReadiness` in `cambium-wire`.

use std::collections::BTreeSet;

use cambium_msp::policy::{Policy, PolicyGroup};
use cambium_primitives::SignaturePolicyEnvelope;
use cambium_primitives::{ImplicitMetaRule, MspRole, Principal, SignaturePolicy};
use cambium_wire::Message;

use crate::definition::ApplicationPolicy;
use crate::error::{LifecycleError, Result};

/// The protobuf field number of the [`ReadinessReport`] appended to Fabric's result messages
/// (far above Fabric's own field numbers, so no Fabric version will collide with it).
pub const READINESS_FIELD: u32 = 1000;

use cambium_wire::cambium_lifecycle::ReadinessExtension;
pub use cambium_wire::cambium_lifecycle::{OrgReadiness, ReadinessReport};

/// The orgs of `report` that are ready, in order.
pub fn ready_orgs(report: &ReadinessReport) -> BTreeSet<String> {
    report
        .orgs
        .iter()
        .filter(|(_, r)| r.ready)
        .map(|(org, _)| org.clone())
        .collect()
}

/// Appends `report` as field [`READINESS_FIELD`] to the encoded result `result`.
pub fn append_report(report: &ReadinessReport, result: &mut Vec<u8>) {
    ReadinessExtension {
        readiness: Some(report.clone()),
    }
    .encode(result)
    .unwrap_or_else(|_| unreachable!("a Vec grows as needed"));
}

/// The report carried in the bytes of a `CheckCommitReadinessResult` or
/// `QueryChaincodeDefinitionResult`, if the peer is a Cambium peer that added one.
pub fn report_from_result(result: &[u8]) -> Result<Option<ReadinessReport>> {
    ReadinessExtension::decode(result)
        .map(|c| c.readiness)
        .map_err(|e| {
            LifecycleError::BadArguments(format!(
                "the result's readiness report (field {READINESS_FIELD}) cannot be decoded: {e}"
            ))
        })
}

/// Whether endorsements by one peer of each org in `ready` can satisfy `policy`, resolving
/// channel references in `channel` (the channel's root `Channel` policy group); see the
/// module docs for the rules.
pub fn orgs_satisfy(
    policy: &ApplicationPolicy,
    channel: &PolicyGroup,
    ready: &BTreeSet<String>,
) -> Result<bool> {
    match policy {
        ApplicationPolicy::Signature(envelope) => Ok(signature_satisfied(envelope, ready)),
        ApplicationPolicy::ChannelReference(path) => {
            let relative = path
                .trim_start_matches('/')
                .strip_prefix("Channel/")
                .unwrap_or(path.trim_start_matches('/'));
            let (dir, name) = relative.rsplit_once('/').unwrap_or(("", relative));
            let group = channel.group(dir).ok_or_else(|| unknown_policy(path))?;
            named_satisfied(group, name, ready).ok_or_else(|| unknown_policy(path))
        }
    }
}

fn unknown_policy(path: &str) -> LifecycleError {
    LifecycleError::Refused(format!(
        "the definition's endorsement policy refers to channel policy '{path}', which the channel configuration does not define; approve a definition whose policy exists"
    ))
}

/// The policy `name` of `group` over `ready`; `None` if the group has no such policy.
fn named_satisfied(group: &PolicyGroup, name: &str, ready: &BTreeSet<String>) -> Option<bool> {
    match group.policies.get(name)? {
        Policy::Signature(envelope) => Some(signature_satisfied(envelope, ready)),
        Policy::ImplicitMeta(meta) => {
            let total = group.groups.len();
            let satisfied = group
                .groups
                .values()
                .filter(|child| named_satisfied(child, &meta.sub_policy, ready) == Some(true))
                .count();
            let threshold = match meta.rule {
                ImplicitMetaRule::Any => 1,
                ImplicitMetaRule::All => total,
                ImplicitMetaRule::Majority => total / 2 + 1,
            };
            Some(satisfied >= threshold)
        }
    }
}

fn principal_ready(principal: &Principal, ready: &BTreeSet<String>) -> bool {
    match principal {
        Principal::Role {
            role: MspRole::Orderer,
            ..
        }
        | Principal::Identity(_) => false,
        Principal::Role { msp_id, .. } | Principal::OrganizationUnit { msp_id, .. } => {
            ready.contains(msp_id)
        }
    }
}

fn signature_satisfied(envelope: &SignaturePolicyEnvelope, ready: &BTreeSet<String>) -> bool {
    fn eval(rule: &SignaturePolicy, identities: &[Principal], ready: &BTreeSet<String>) -> bool {
        match rule {
            SignaturePolicy::SignedBy(i) => identities
                .get(*i as usize)
                .is_some_and(|p| principal_ready(p, ready)),
            SignaturePolicy::NOutOf { n, rules } => {
                let met = rules.iter().filter(|r| eval(r, identities, ready)).count();
                met >= *n as usize
            }
        }
    }
    eval(&envelope.rule, &envelope.identities, ready)
}

/// How a policy reads in an error message: the signature policy in Fabric's DSL, or the
/// channel policy's path.
pub fn describe_policy(policy: &ApplicationPolicy) -> String {
    match policy {
        ApplicationPolicy::Signature(envelope) => cambium_msp::policy::format(envelope),
        ApplicationPolicy::ChannelReference(path) => format!("channel policy {path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cambium_primitives::ImplicitMetaPolicy;

    fn set(orgs: &[&str]) -> BTreeSet<String> {
        orgs.iter().map(|o| (*o).to_owned()).collect()
    }

    fn org_group(msp: &str) -> PolicyGroup {
        let env = cambium_msp::policy::parse(&format!("OR('{msp}.peer')")).unwrap();
        PolicyGroup::new().with_policy("Endorsement", Policy::Signature(env))
    }

    fn channel(orgs: &[&str]) -> PolicyGroup {
        let mut app = PolicyGroup::new().with_policy(
            "Endorsement",
            Policy::ImplicitMeta(ImplicitMetaPolicy {
                rule: ImplicitMetaRule::Majority,
                sub_policy: "Endorsement".into(),
            }),
        );
        for org in orgs {
            app = app.with_group(org, org_group(org));
        }
        PolicyGroup::new().with_group("Application", app)
    }

    #[test]
    fn signature_policies_count_ready_orgs() {
        let and = ApplicationPolicy::Signature(
            cambium_msp::policy::parse("AND('Org1MSP.peer','Org2MSP.member')").unwrap(),
        );
        let empty = PolicyGroup::new();
        assert!(orgs_satisfy(&and, &empty, &set(&["Org1MSP", "Org2MSP"])).unwrap());
        assert!(!orgs_satisfy(&and, &empty, &set(&["Org1MSP"])).unwrap());
        let orderer = ApplicationPolicy::Signature(
            cambium_msp::policy::parse("OR('Org1MSP.orderer')").unwrap(),
        );
        assert!(!orgs_satisfy(&orderer, &empty, &set(&["Org1MSP"])).unwrap());
    }

    #[test]
    fn channel_references_resolve_implicit_meta() {
        let channel = channel(&["Org1MSP", "Org2MSP", "Org3MSP"]);
        let default = ApplicationPolicy::default_policy();
        assert!(orgs_satisfy(&default, &channel, &set(&["Org1MSP", "Org3MSP"])).unwrap());
        assert!(!orgs_satisfy(&default, &channel, &set(&["Org2MSP"])).unwrap());
        let org2 =
            ApplicationPolicy::ChannelReference("/Channel/Application/Org2MSP/Endorsement".into());
        assert!(orgs_satisfy(&org2, &channel, &set(&["Org2MSP"])).unwrap());
        let missing = ApplicationPolicy::ChannelReference("/Channel/Application/Nope".into());
        let err = orgs_satisfy(&missing, &channel, &set(&[])).unwrap_err();
        assert!(
            err.to_string().contains("/Channel/Application/Nope"),
            "{err}"
        );
    }

    #[test]
    fn reports_ride_along_fabric_results() {
        let mut bytes = cambium_wire::lifecycle::CheckCommitReadinessResult {
            approvals: [("Org1MSP".to_owned(), true)].into_iter().collect(),
            mismatches: Default::default(),
        }
        .encode_to_vec();
        assert_eq!(report_from_result(&bytes).unwrap(), None);
        let report = ReadinessReport {
            orgs: [(
                "Org1MSP".to_owned(),
                OrgReadiness {
                    approved: true,
                    package_id: "basic_1:ab".into(),
                    ready: true,
                },
            )]
            .into_iter()
            .collect(),
        };
        append_report(&report, &mut bytes);
        let fabric =
            cambium_wire::lifecycle::CheckCommitReadinessResult::decode(bytes.as_slice()).unwrap();
        assert_eq!(fabric.approvals.get("Org1MSP"), Some(&true));
        assert_eq!(report_from_result(&bytes).unwrap(), Some(report));
    }
}
