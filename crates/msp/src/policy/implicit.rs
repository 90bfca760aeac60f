//! Implicit meta policies over a tree of policy groups (Fabric's `common/policies`).
//!
//! A channel config is a tree of groups (`Channel` → `Application` → `Org1MSP`, …), each with
//! named policies. `MAJORITY Endorsement` at `Application` means "more than half of the child
//! groups' `Endorsement` policies are satisfied". As in Fabric's `implicitmeta.go`: ANY needs 1,
//! ALL needs every child, MAJORITY needs `children / 2 + 1`; a child without that policy counts
//! as not satisfied; and a group with **no** children is satisfied by any rule (threshold 0).

use std::collections::BTreeMap;

use cambium_primitives::{ImplicitMetaPolicy, ImplicitMetaRule, SignaturePolicyEnvelope};

use super::eval::{evaluate, explain, VerifiedSignatures};
use super::{format, PolicyError, Result};
use crate::msp::MspManager;

/// A policy of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Policy {
    /// A signature policy.
    Signature(SignaturePolicyEnvelope),
    /// A rule over the same-named policies of the child groups.
    ImplicitMeta(ImplicitMetaPolicy),
}

/// A config group: named policies and named child groups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolicyGroup {
    /// Policies by name (`Readers`, `Writers`, `Admins`, `Endorsement`, …).
    pub policies: BTreeMap<String, Policy>,
    /// Child groups by name (`Application`, `Org1MSP`, …).
    pub groups: BTreeMap<String, PolicyGroup>,
}

/// Parses `ANY Readers`, `ALL Admins` or `MAJORITY Endorsement`, as configtxgen does
/// (exactly two space-separated tokens, the rule in capitals).
pub fn parse_implicit_meta(input: &str) -> Result<ImplicitMetaPolicy> {
    let bad = |problem: String| PolicyError::BadImplicitMeta {
        input: input.to_owned(),
        problem,
    };
    let tokens: Vec<&str> = input.split(' ').collect();
    let [rule, sub] = tokens.as_slice() else {
        return Err(bad(format!(
            "expected two tokens separated by one space, like 'MAJORITY Endorsement', found {}",
            tokens.len()
        )));
    };
    let rule = match *rule {
        "ANY" => ImplicitMetaRule::Any,
        "ALL" => ImplicitMetaRule::All,
        "MAJORITY" => ImplicitMetaRule::Majority,
        other => {
            return Err(bad(format!(
                "unknown rule '{other}'; use ANY, ALL or MAJORITY (in capitals)"
            )))
        }
    };
    if sub.is_empty() {
        return Err(bad("the sub-policy name is empty".to_owned()));
    }
    Ok(ImplicitMetaPolicy {
        rule,
        sub_policy: (*sub).to_owned(),
    })
}

impl PolicyGroup {
    /// An empty group.
    pub fn new() -> PolicyGroup {
        PolicyGroup::default()
    }

    /// Adds a policy (builder style).
    pub fn with_policy(mut self, name: &str, policy: Policy) -> PolicyGroup {
        self.policies.insert(name.to_owned(), policy);
        self
    }

    /// Adds a child group (builder style).
    pub fn with_group(mut self, name: &str, group: PolicyGroup) -> PolicyGroup {
        self.groups.insert(name.to_owned(), group);
        self
    }

    /// The group at a `/`-separated path relative to this one (`""` is this group).
    pub fn group(&self, path: &str) -> Option<&PolicyGroup> {
        path.split('/')
            .filter(|s| !s.is_empty())
            .try_fold(self, |g, name| g.groups.get(name))
    }

    /// The policy at a path such as `Application/Org1MSP/Endorsement`, relative to this group.
    pub fn policy(&self, path: &str) -> Option<&Policy> {
        let (dir, name) = path
            .trim_matches('/')
            .rsplit_once('/')
            .unwrap_or(("", path.trim_matches('/')));
        self.group(dir)?.policies.get(name)
    }

    /// Evaluates the policy at `path` (relative to this group) over verified signers.
    pub fn evaluate(
        &self,
        path: &str,
        signers: &VerifiedSignatures,
        msps: &MspManager,
    ) -> Result<()> {
        let trimmed = path.trim_matches('/');
        let (dir, name) = trimmed.rsplit_once('/').unwrap_or(("", trimmed));
        let Some(group) = self.group(dir) else {
            return Err(PolicyError::UnknownPolicy {
                path: path.to_owned(),
                hint: format!("there is no group '{dir}'; paths are relative to the group evaluated, e.g. Application/Endorsement"),
            });
        };
        group.evaluate_named(name, path, signers, msps)
    }

    /// Verifies `signed` at `at` (unix seconds) and evaluates the policy at `path` over it.
    pub fn evaluate_signed_data(
        &self,
        path: &str,
        signed: &[super::SignedData],
        msps: &MspManager,
        at: i64,
    ) -> Result<()> {
        let signers = super::verify_signed_data(signed, msps, at);
        self.evaluate(path, &signers, msps)
    }

    fn evaluate_named(
        &self,
        name: &str,
        path: &str,
        signers: &VerifiedSignatures,
        msps: &MspManager,
    ) -> Result<()> {
        let Some(policy) = self.policies.get(name) else {
            let known: Vec<&str> = self.policies.keys().map(String::as_str).collect();
            return Err(PolicyError::UnknownPolicy {
                path: path.to_owned(),
                hint: format!("this group has the policies: {}", known.join(", ")),
            });
        };
        match policy {
            Policy::Signature(env) => {
                let ev = evaluate(env, signers, msps)?;
                if ev.satisfied {
                    Ok(())
                } else {
                    Err(PolicyError::NotSatisfied {
                        name: format!("policy {path}"),
                        policy: format(env),
                        reason: explain(&ev.unsatisfied, signers),
                    })
                }
            }
            Policy::ImplicitMeta(meta) => {
                let children = self.groups.len();
                let threshold = if children == 0 {
                    0
                } else {
                    match meta.rule {
                        ImplicitMetaRule::Any => 1,
                        ImplicitMetaRule::All => children,
                        ImplicitMetaRule::Majority => children / 2 + 1,
                    }
                };
                let mut satisfied = 0;
                let mut failures = Vec::new();
                for (child_name, child) in &self.groups {
                    // As Fabric's implicit meta policy: stop at the threshold. The answer is
                    // the same, and failing children no longer cost their error messages.
                    if satisfied >= threshold {
                        return Ok(());
                    }
                    let child_path = format!("{}/{}", child_name, meta.sub_policy);
                    let result = if child.policies.contains_key(&meta.sub_policy) {
                        child.evaluate_named(&meta.sub_policy, &child_path, signers, msps)
                    } else {
                        Err(PolicyError::UnknownPolicy {
                            path: child_path.clone(),
                            hint: "the group does not define it".to_owned(),
                        })
                    };
                    match result {
                        Ok(()) => satisfied += 1,
                        Err(e) => failures.push(e),
                    }
                }
                if satisfied >= threshold {
                    return Ok(());
                }
                Err(PolicyError::NotSatisfied {
                    name: format!("policy {path}"),
                    policy: format!("({meta})"),
                    reason: format!(
                        "{satisfied} of {children} '{}' sub-policies satisfied, {threshold} required; {}",
                        meta.sub_policy,
                        failures
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("; ")
                    ),
                })
            }
        }
    }
}
