//! A definition's own upgrade policy (like Fabric 1.x's instantiation policy): a signature
//! policy in Fabric's DSL, e.g. `AND('Org1MSP.admin','Org2MSP.admin')`, that the *next*
//! definition of the contract must satisfy on top of `LifecycleEndorsement`.
//!
//! # Carried and stored
//!
//! The policy travels as Cambium extension field [`FIELD`] (1002, `string upgrade_policy`,
//! message `cambium.lifecycle.UpgradePolicyExtension`) of Fabric's approve, readiness and commit
//! arguments, is part of what each org approves (a difference is the mismatch `UpgradePolicy`),
//! rides along the approval and query results at the same field, and is committed as the
//! definition field `namespaces/fields/<name>/UpgradePolicy` (listed in the metadata only when
//! present).
//!
//! # The rule ([`check`])
//!
//! Committing sequence N+1 of a contract must satisfy:
//!
//! - the upgrade policy of the committed sequence N, if it has one; and
//! - the new definition's upgrade policy, if it differs from N's (introducing or changing a
//!   policy needs the new one too, so the orgs it names agree to be bound by it; dropping it
//!   needs only the old one).
//!
//! A policy is evaluated over the **approvals** of sequence N+1: each channel org that
//! approved exactly the committed parameters counts as one signature by an admin of that org
//! (approving requires an admin of the org: the peer's ACL checks it, and the validator
//! requires the approval key to be endorsed by that org's peer). So a principal
//! `'<MSP>.admin'` or `'<MSP>.member'` is satisfied when `<MSP>` approved; principals naming
//! another role (`peer`, `client`, `orderer`), an OU or one exact identity are never
//! satisfied by approvals — write upgrade policies over admins. The endorser refuses a
//! commit that fails the rule, naming the policy and the orgs whose approvals are missing;
//! the validator checks the same rule from the committed approvals and definition, so a
//! commit endorsed anyway is invalid (`ENDORSEMENT_POLICY_FAILURE`).

use std::collections::BTreeSet;

use cambium_primitives::{MspRole, Principal, SignaturePolicy, SignaturePolicyEnvelope};
pub use cambium_wire::cambium_lifecycle::UpgradePolicyExtension;
use cambium_wire::Message;

use crate::definition::Definition;
use crate::error::{LifecycleError, Result};

/// The protobuf field number at which the upgrade policy rides along Fabric's lifecycle
/// messages.
pub const FIELD: u32 = 1002;

/// The upgrade policy carried at field [`FIELD`] of an encoded Fabric lifecycle message, if
/// any (an empty string is none).
pub fn from_message(bytes: &[u8]) -> Result<Option<String>> {
    UpgradePolicyExtension::decode(bytes)
        .map(|e| Some(e.upgrade_policy).filter(|p| !p.is_empty()))
        .map_err(|e| {
            LifecycleError::BadArguments(format!(
                "the upgrade policy (field {FIELD}) cannot be decoded: {e}; send it as a string"
            ))
        })
}

/// Appends `policy` as field [`FIELD`] to the encoded message `bytes`.
pub fn append(policy: &str, bytes: &mut Vec<u8>) {
    UpgradePolicyExtension {
        upgrade_policy: policy.to_owned(),
    }
    .encode(bytes)
    .unwrap_or_else(|_| unreachable!("a Vec grows as needed"));
}

/// Parses an upgrade policy, refusing one that is not a signature policy.
pub fn parse(policy: &str) -> Result<SignaturePolicyEnvelope> {
    cambium_msp::policy::parse(policy).map_err(|e| {
        LifecycleError::BadArguments(format!(
            "the upgrade policy \"{policy}\" is not a signature policy: {e}; write it in Fabric's policy language, e.g. AND('Org1MSP.admin','Org2MSP.admin')"
        ))
    })
}

/// Checks the upgrade policy a definition carries, if any.
pub fn check_syntax(definition: &Definition) -> Result<()> {
    definition
        .upgrade_policy
        .as_deref()
        .map_or(Ok(()), |p| parse(p).map(drop))
}

fn principal_approved(principal: &Principal, approved: &BTreeSet<String>) -> bool {
    match principal {
        Principal::Role {
            msp_id,
            role: MspRole::Admin | MspRole::Member,
        } => approved.contains(msp_id),
        _ => false,
    }
}

/// Whether the approvals of the orgs in `approved` satisfy `envelope` (see the module docs).
pub fn satisfied(envelope: &SignaturePolicyEnvelope, approved: &BTreeSet<String>) -> bool {
    fn eval(rule: &SignaturePolicy, ids: &[Principal], approved: &BTreeSet<String>) -> bool {
        match rule {
            SignaturePolicy::SignedBy(i) => ids
                .get(*i as usize)
                .is_some_and(|p| principal_approved(p, approved)),
            SignaturePolicy::NOutOf { n, rules } => {
                rules.iter().filter(|r| eval(r, ids, approved)).count() >= *n as usize
            }
        }
    }
    eval(&envelope.rule, &envelope.identities, approved)
}

/// The policies committing `new` over `old` (the committed definition) must satisfy, with
/// what each is, for messages.
pub fn required(old: Option<&Definition>, new: &Definition) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let old_policy = old.and_then(|o| o.upgrade_policy.as_ref().map(|p| (o.sequence, p)));
    if let Some((sequence, policy)) = old_policy {
        out.push((
            policy.clone(),
            format!("the upgrade policy of the committed sequence {sequence}"),
        ));
    }
    if let Some(policy) = &new.upgrade_policy {
        if old_policy.map(|(_, p)| p) != Some(policy) {
            out.push((
                policy.clone(),
                format!("the new upgrade policy of sequence {}", new.sequence),
            ));
        }
    }
    out
}

/// Refuses committing `new` of `name` over `old` when the orgs in `approved` (those whose
/// approval of `new` matches it exactly) do not satisfy every [`required`] policy; the
/// message names the policy and the orgs whose admins' approvals are missing.
pub fn check(
    name: &str,
    old: Option<&Definition>,
    new: &Definition,
    approved: &BTreeSet<String>,
) -> Result<()> {
    for (policy, what) in required(old, new) {
        let envelope = parse(&policy)?;
        if satisfied(&envelope, approved) {
            continue;
        }
        let missing: BTreeSet<&str> = envelope
            .identities
            .iter()
            .filter_map(|p| match p {
                Principal::Role { msp_id, .. } | Principal::OrganizationUnit { msp_id, .. } => {
                    Some(msp_id.as_str())
                }
                Principal::Identity(_) => None,
            })
            .filter(|msp| !approved.contains(*msp))
            .collect();
        return Err(LifecycleError::Refused(format!(
            "refusing to commit sequence {} of '{name}': {what}, {policy}, is not satisfied by the orgs whose admins approved these exact parameters ({}); missing approvals from: {}; each of those orgs' admins must approve sequence {} with these parameters (an approval counts as its org's admin signature)",
            new.sequence,
            if approved.is_empty() { "none".to_owned() } else { approved.iter().cloned().collect::<Vec<_>>().join(", ") },
            if missing.is_empty() { "orgs with admin or member principals in the policy".to_owned() } else { missing.into_iter().collect::<Vec<_>>().join(", ") },
            new.sequence,
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orgs(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|o| (*o).to_owned()).collect()
    }

    fn def(sequence: i64, policy: Option<&str>) -> Definition {
        Definition::new(sequence, "1.0").with_upgrade_policy(policy.map(str::to_owned))
    }

    const BOTH: &str = "AND('Org1MSP.admin','Org2MSP.admin')";

    #[test]
    fn approvals_count_as_admin_signatures() {
        let env = parse(BOTH).unwrap();
        assert!(satisfied(&env, &orgs(&["Org1MSP", "Org2MSP"])));
        assert!(!satisfied(&env, &orgs(&["Org1MSP"])));
        assert!(satisfied(
            &parse("OR('Org2MSP.member')").unwrap(),
            &orgs(&["Org2MSP"])
        ));
        // Approvals are not peer or client signatures.
        assert!(!satisfied(
            &parse("OR('Org1MSP.peer','Org1MSP.client')").unwrap(),
            &orgs(&["Org1MSP"])
        ));
    }

    #[test]
    fn the_old_policy_and_a_changed_new_one_are_required() {
        assert!(required(Some(&def(1, None)), &def(2, None)).is_empty());
        assert_eq!(
            required(Some(&def(1, Some(BOTH))), &def(2, Some(BOTH))).len(),
            1
        );
        let change = required(
            Some(&def(1, Some(BOTH))),
            &def(2, Some("OR('Org1MSP.admin')")),
        );
        assert_eq!(change.len(), 2);
        assert!(change[0].1.contains("committed sequence 1"));
        assert!(change[1].1.contains("new upgrade policy of sequence 2"));
        // Introducing a policy needs it; dropping one needs the old one.
        assert_eq!(required(None, &def(1, Some(BOTH))).len(), 1);
        assert_eq!(required(Some(&def(1, Some(BOTH))), &def(2, None)).len(), 1);
    }

    #[test]
    fn refusals_name_the_policy_and_the_missing_orgs() {
        let old = def(1, Some(BOTH));
        let err = check("kv", Some(&old), &def(2, Some(BOTH)), &orgs(&["Org1MSP"]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("the upgrade policy of the committed sequence 1")
                && err.contains(BOTH)
                && err.contains("missing approvals from: Org2MSP"),
            "{err}"
        );
        check(
            "kv",
            Some(&old),
            &def(2, Some(BOTH)),
            &orgs(&["Org1MSP", "Org2MSP"]),
        )
        .unwrap();
        // Loosening to Org1 alone still needs the old policy.
        let loose = def(2, Some("OR('Org1MSP.admin')"));
        assert!(check("kv", Some(&old), &loose, &orgs(&["Org1MSP"])).is_err());
        // Tightening needs the new one.
        let tight = def(2, Some("AND('Org1MSP.admin','Org3MSP.admin')"));
        let err = check(
            "kv",
            Some(&def(1, None)),
            &tight,
            &orgs(&["Org1MSP", "Org2MSP"]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("missing approvals from: Org3MSP"), "{err}");
        let bad = def(2, Some("AND(Org1MSP.admin"));
        assert!(check_syntax(&bad)
            .unwrap_err()
            .to_string()
            .contains("is not a signature policy"));
    }

    #[test]
    fn the_policy_rides_at_field_1002() {
        let mut bytes = cambium_wire::lifecycle::CommitChaincodeDefinitionArgs {
            name: "kv".into(),
            sequence: 2,
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(from_message(&bytes).unwrap(), None);
        let start = bytes.len();
        append(BOTH, &mut bytes);
        // Tag of field 1002, wire type 2: varint (1002 << 3 | 2) = 8018 = 0xd2 0x3e.
        assert_eq!(&bytes[start..start + 2], &[0xd2, 0x3e]);
        assert_eq!(from_message(&bytes).unwrap().as_deref(), Some(BOTH));
        let fabric =
            cambium_wire::lifecycle::CommitChaincodeDefinitionArgs::decode(bytes.as_slice())
                .unwrap();
        assert_eq!(fabric.sequence, 2);
    }
}
