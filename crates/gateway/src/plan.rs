//! Endorsement planning: which organisations must endorse for a contract's endorsement policy
//! to be satisfied.
//!
//! A policy becomes a [`Requirement`] tree over MSP IDs: a signature policy's `SignedBy` leaf
//! needs one endorsement from its principal's organisation, `NOutOf` needs `n` of its
//! children, and a channel-policy reference (such as the default
//! `/Channel/Application/Endorsement`, `MAJORITY Endorsement`) is expanded through the
//! channel's policy tree exactly as policy evaluation expands it: ANY needs one child group,
//! ALL every child, MAJORITY `children / 2 + 1`, a child group without the named policy never
//! counts, and a group with no children needs none.
//!
//! [`smallest_plan`] then picks a smallest set of the available organisations that satisfies
//! the tree, preferring sets with the gateway's own organisation, then MSP IDs in order.
//! Planning assumes one endorsement per organisation (one peer's signature covers every leaf
//! naming its organisation), which holds for the role principals (`peer`, `member`) contracts
//! use.

use std::collections::BTreeSet;

use cambium_msp::policy::{Policy, PolicyGroup};
use cambium_primitives::{ImplicitMetaRule, SignaturePolicy, SignaturePolicyEnvelope};
use cambium_validator::EndorsementPolicy;

use crate::error::{GatewayError, Result};

/// Organisations whose endorsements a policy needs, as a threshold tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    /// One endorsement from this MSP.
    Org(String),
    /// At least `n` of the children satisfied.
    OutOf {
        /// How many children must be satisfied.
        n: usize,
        /// The children.
        of: Vec<Requirement>,
    },
}

/// How deep channel-policy references may nest before planning gives up (a cycle guard).
const MAX_DEPTH: usize = 16;

/// Above this many candidate organisations, planning switches from exhaustive search to a
/// greedy reduction.
const EXHAUSTIVE_LIMIT: usize = 16;

impl Requirement {
    /// The requirement of a signature policy.
    pub fn from_signature(envelope: &SignaturePolicyEnvelope) -> Requirement {
        fn walk(rule: &SignaturePolicy, envelope: &SignaturePolicyEnvelope) -> Requirement {
            match rule {
                SignaturePolicy::SignedBy(index) => {
                    match envelope.identities.get(*index as usize) {
                        Some(principal) => Requirement::Org(principal_msp(principal).to_owned()),
                        // A leaf naming no principal can never be satisfied.
                        None => Requirement::OutOf {
                            n: 1,
                            of: Vec::new(),
                        },
                    }
                }
                SignaturePolicy::NOutOf { n, rules } => Requirement::OutOf {
                    n: *n as usize,
                    of: rules.iter().map(|r| walk(r, envelope)).collect(),
                },
            }
        }
        walk(&envelope.rule, envelope)
    }

    /// The requirement of a contract's endorsement policy, channel-policy references resolved
    /// in `policies` (the tree rooted at `/Channel`).
    pub fn from_endorsement_policy(
        policy: &EndorsementPolicy,
        policies: &PolicyGroup,
    ) -> Result<Requirement> {
        match policy {
            EndorsementPolicy::Signature(envelope) => Ok(Requirement::from_signature(envelope)),
            EndorsementPolicy::ChannelPolicy(path) => channel_policy(policies, path, 0),
        }
    }

    /// Whether endorsements from `orgs` satisfy the requirement.
    pub fn satisfied_by(&self, orgs: &BTreeSet<&str>) -> bool {
        match self {
            Requirement::Org(msp) => orgs.contains(msp.as_str()),
            Requirement::OutOf { n, of } => {
                of.iter().filter(|r| r.satisfied_by(orgs)).count() >= *n
            }
        }
    }

    /// Every MSP ID the requirement mentions, in order.
    pub fn orgs(&self) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        self.collect(&mut out);
        out
    }

    fn collect(&self, out: &mut BTreeSet<String>) {
        match self {
            Requirement::Org(msp) => {
                out.insert(msp.clone());
            }
            Requirement::OutOf { of, .. } => of.iter().for_each(|r| r.collect(out)),
        }
    }
}

fn principal_msp(principal: &cambium_primitives::Principal) -> &str {
    match principal {
        cambium_primitives::Principal::Role { msp_id, .. }
        | cambium_primitives::Principal::OrganizationUnit { msp_id, .. } => msp_id,
        cambium_primitives::Principal::Identity(identity) => &identity.msp_id,
    }
}

/// A path relative to `/Channel`, without leading or trailing slashes.
fn relative(path: &str) -> &str {
    let trimmed = path.trim_matches('/');
    trimmed
        .strip_prefix("Channel/")
        .or_else(|| (trimmed == "Channel").then_some(""))
        .unwrap_or(trimmed)
}

fn channel_policy(root: &PolicyGroup, path: &str, depth: usize) -> Result<Requirement> {
    if depth > MAX_DEPTH {
        return Err(GatewayError::Planning(format!(
            "channel policy {path} nests more than {MAX_DEPTH} levels deep; check the channel configuration's policies"
        )));
    }
    let rel = relative(path);
    let (dir, name) = rel.rsplit_once('/').unwrap_or(("", rel));
    let group = root.group(dir).ok_or_else(|| {
        GatewayError::Planning(format!(
            "the endorsement policy refers to {path}, but the channel has no group /Channel/{dir}; fix the contract definition's policy"
        ))
    })?;
    let policy = group.policies.get(name).ok_or_else(|| {
        GatewayError::Planning(format!(
            "the endorsement policy refers to {path}, which the channel does not define; fix the contract definition's policy or add it to the channel"
        ))
    })?;
    match policy {
        Policy::Signature(envelope) => Ok(Requirement::from_signature(envelope)),
        Policy::ImplicitMeta(meta) => {
            let children: Vec<Requirement> = group
                .groups
                .iter()
                .map(|(child_name, child)| {
                    if child.policies.contains_key(&meta.sub_policy) {
                        let child_path = if dir.is_empty() {
                            format!("{child_name}/{}", meta.sub_policy)
                        } else {
                            format!("{dir}/{child_name}/{}", meta.sub_policy)
                        };
                        channel_policy(root, &child_path, depth + 1)
                    } else {
                        // A child without the policy never counts as satisfied.
                        Ok(Requirement::OutOf {
                            n: 1,
                            of: Vec::new(),
                        })
                    }
                })
                .collect::<Result<_>>()?;
            let n = match meta.rule {
                ImplicitMetaRule::Any => usize::from(!children.is_empty()),
                ImplicitMetaRule::All => children.len(),
                ImplicitMetaRule::Majority => {
                    if children.is_empty() {
                        0
                    } else {
                        children.len() / 2 + 1
                    }
                }
            };
            Ok(Requirement::OutOf { n, of: children })
        }
    }
}

/// A smallest set of organisations from `available` whose endorsements satisfy `requirement`,
/// in planning order (`local` first when chosen, then by MSP ID); `None` if even all of them
/// together do not.
///
/// Among sets of the smallest size, one containing `local` is chosen when there is one.
pub fn smallest_plan(
    requirement: &Requirement,
    available: &BTreeSet<String>,
    local: &str,
) -> Option<Vec<String>> {
    let mentioned = requirement.orgs();
    let mut candidates: Vec<&str> = Vec::new();
    if available.contains(local) && mentioned.contains(local) {
        candidates.push(local);
    }
    candidates.extend(
        available
            .iter()
            .map(String::as_str)
            .filter(|o| *o != local && mentioned.contains(*o)),
    );
    let all: BTreeSet<&str> = candidates.iter().copied().collect();
    if !requirement.satisfied_by(&all) {
        return None;
    }
    if candidates.len() > EXHAUSTIVE_LIMIT {
        return Some(greedy(requirement, &candidates));
    }
    for size in 0..=candidates.len() {
        let mut found = None;
        for_each_combination(candidates.len(), size, &mut |indices| {
            let set: BTreeSet<&str> = indices.iter().map(|&i| candidates[i]).collect();
            if requirement.satisfied_by(&set) {
                found = Some(indices.iter().map(|&i| candidates[i].to_owned()).collect());
                true
            } else {
                false
            }
        });
        if found.is_some() {
            return found;
        }
    }
    None
}

/// Drops organisations one at a time (the local one last) while the rest still satisfy.
fn greedy(requirement: &Requirement, candidates: &[&str]) -> Vec<String> {
    let mut chosen: Vec<&str> = candidates.to_vec();
    for org in candidates.iter().rev() {
        let without: BTreeSet<&str> = chosen.iter().copied().filter(|o| o != org).collect();
        if requirement.satisfied_by(&without) {
            chosen.retain(|o| o != org);
        }
    }
    chosen.into_iter().map(str::to_owned).collect()
}

/// Calls `visit` with every `k`-combination of `0..n` in lexicographic order until it returns
/// `true`.
fn for_each_combination(n: usize, k: usize, visit: &mut dyn FnMut(&[usize]) -> bool) {
    let mut indices: Vec<usize> = (0..k).collect();
    if k > n {
        return;
    }
    loop {
        if visit(&indices) {
            return;
        }
        // Find the rightmost index that can still move right.
        let Some(i) = (0..k).rev().find(|&i| indices[i] < n - k + i) else {
            return;
        };
        indices[i] += 1;
        for j in i + 1..k {
            indices[j] = indices[j - 1] + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cambium_msp::policy::{parse, parse_implicit_meta};

    fn orgs(list: &[&str]) -> BTreeSet<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    fn plan(policy: &str, available: &[&str], local: &str) -> Option<Vec<String>> {
        let requirement = Requirement::from_signature(&parse(policy).unwrap());
        smallest_plan(&requirement, &orgs(available), local)
    }

    fn check(policy: &str, available: &[&str], local: &str, expected: Option<&[&str]>) {
        let got = plan(policy, available, local);
        let expected = expected.map(|e| e.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>());
        assert_eq!(
            got, expected,
            "policy {policy}, available {available:?}, local {local}"
        );
    }

    #[test]
    fn signature_policies() {
        let and = "AND('Org1MSP.peer', 'Org2MSP.peer')";
        check(
            and,
            &["Org1MSP", "Org2MSP"],
            "Org1MSP",
            Some(&["Org1MSP", "Org2MSP"]),
        );
        check(
            and,
            &["Org1MSP", "Org2MSP"],
            "Org2MSP",
            Some(&["Org2MSP", "Org1MSP"]),
        );
        check(and, &["Org1MSP"], "Org1MSP", None);

        let or = "OR('Org1MSP.peer', 'Org2MSP.peer')";
        check(or, &["Org1MSP", "Org2MSP"], "Org2MSP", Some(&["Org2MSP"]));
        check(or, &["Org1MSP", "Org2MSP"], "Org1MSP", Some(&["Org1MSP"]));
        // The local org is not in the policy: the first other org in MSP ID order.
        check(
            or,
            &["Org1MSP", "Org2MSP", "Org3MSP"],
            "Org3MSP",
            Some(&["Org1MSP"]),
        );
        check(or, &["Org2MSP"], "Org1MSP", Some(&["Org2MSP"]));
        check(or, &[], "Org1MSP", None);

        let two_of_three = "OutOf(2, 'A.peer', 'B.peer', 'C.peer')";
        check(two_of_three, &["A", "B", "C"], "C", Some(&["C", "A"]));
        check(two_of_three, &["A", "B", "C"], "X", Some(&["A", "B"]));
        check(two_of_three, &["B", "C"], "A", Some(&["B", "C"]));
        check(two_of_three, &["C"], "C", None);

        // Nested: A and (B or C), local C.
        let nested = "AND('A.peer', OR('B.peer', 'C.peer'))";
        check(nested, &["A", "B", "C"], "C", Some(&["C", "A"]));
        check(nested, &["A", "B", "C"], "B", Some(&["B", "A"]));
        check(nested, &["A", "B", "C"], "A", Some(&["A", "B"]));
        // Smaller beats local: OR(A, AND(B, C)) with local B picks A alone.
        check(
            "OR('A.peer', AND('B.peer', 'C.peer'))",
            &["A", "B", "C"],
            "B",
            Some(&["A"]),
        );
    }

    fn channel_tree(org_policies: &[(&str, Option<&str>)], rule: &str) -> PolicyGroup {
        let mut application = PolicyGroup::new().with_policy(
            "Endorsement",
            Policy::ImplicitMeta(parse_implicit_meta(rule).unwrap()),
        );
        for (org, policy) in org_policies {
            let mut group = PolicyGroup::new();
            if let Some(p) = policy {
                group = group.with_policy("Endorsement", Policy::Signature(parse(p).unwrap()));
            }
            application = application.with_group(org, group);
        }
        PolicyGroup::new().with_group("Application", application)
    }

    fn channel_plan(tree: &PolicyGroup, available: &[&str], local: &str) -> Option<Vec<String>> {
        let requirement = Requirement::from_endorsement_policy(
            &EndorsementPolicy::ChannelPolicy("/Channel/Application/Endorsement".into()),
            tree,
        )
        .unwrap();
        smallest_plan(&requirement, &orgs(available), local)
    }

    #[test]
    fn majority_of_org_endorsement_policies() {
        let two = channel_tree(
            &[
                ("Org1MSP", Some("OR('Org1MSP.peer')")),
                ("Org2MSP", Some("OR('Org2MSP.peer')")),
            ],
            "MAJORITY Endorsement",
        );
        // MAJORITY of 2 is 2.
        assert_eq!(
            channel_plan(&two, &["Org1MSP", "Org2MSP"], "Org2MSP"),
            Some(vec!["Org2MSP".to_owned(), "Org1MSP".to_owned()])
        );
        assert_eq!(channel_plan(&two, &["Org1MSP"], "Org1MSP"), None);

        let three = channel_tree(
            &[
                ("A", Some("OR('A.peer')")),
                ("B", Some("OR('B.peer')")),
                ("C", Some("OR('C.peer')")),
            ],
            "MAJORITY Endorsement",
        );
        assert_eq!(
            channel_plan(&three, &["A", "B", "C"], "C"),
            Some(vec!["C".to_owned(), "A".to_owned()])
        );
        assert_eq!(
            channel_plan(&three, &["B", "C"], "A"),
            Some(vec!["B".to_owned(), "C".to_owned()])
        );

        // A child group without the policy never counts: MAJORITY of 3 with one missing.
        let missing = channel_tree(
            &[
                ("A", Some("OR('A.peer')")),
                ("B", None),
                ("C", Some("OR('C.peer')")),
            ],
            "MAJORITY Endorsement",
        );
        assert_eq!(
            channel_plan(&missing, &["A", "B", "C"], "B"),
            Some(vec!["A".to_owned(), "C".to_owned()])
        );

        let any = channel_tree(
            &[("A", Some("OR('A.peer')")), ("B", Some("OR('B.peer')"))],
            "ANY Endorsement",
        );
        assert_eq!(
            channel_plan(&any, &["A", "B"], "B"),
            Some(vec!["B".to_owned()])
        );
        let all = channel_tree(
            &[("A", Some("OR('A.peer')")), ("B", Some("OR('B.peer')"))],
            "ALL Endorsement",
        );
        assert_eq!(
            channel_plan(&all, &["A", "B"], "B"),
            Some(vec!["B".to_owned(), "A".to_owned()])
        );
    }

    #[test]
    fn unknown_channel_policies_are_errors() {
        let tree = channel_tree(&[("A", Some("OR('A.peer')"))], "ANY Endorsement");
        let err = Requirement::from_endorsement_policy(
            &EndorsementPolicy::ChannelPolicy("/Channel/Application/Nope".into()),
            &tree,
        )
        .unwrap_err();
        assert!(
            err.to_string().contains("/Channel/Application/Nope"),
            "{err}"
        );
        let err = Requirement::from_endorsement_policy(
            &EndorsementPolicy::ChannelPolicy("/Channel/Missing/Endorsement".into()),
            &tree,
        )
        .unwrap_err();
        assert!(err.to_string().contains("no group"), "{err}");
    }

    #[test]
    fn many_orgs_use_the_greedy_reduction() {
        let names: Vec<String> = (0..20).map(|i| format!("O{i:02}")).collect();
        let leaves: Vec<String> = names.iter().map(|n| format!("'{n}.peer'")).collect();
        let policy = format!("OutOf(3, {})", leaves.join(", "));
        let requirement = Requirement::from_signature(&parse(&policy).unwrap());
        let available: BTreeSet<String> = names.iter().cloned().collect();
        let chosen = smallest_plan(&requirement, &available, "O10").unwrap();
        assert_eq!(chosen.len(), 3);
        assert_eq!(chosen[0], "O10");
        let set: BTreeSet<&str> = chosen.iter().map(String::as_str).collect();
        assert!(requirement.satisfied_by(&set));
    }

    #[test]
    fn combinations_in_order() {
        let mut seen = Vec::new();
        for_each_combination(4, 2, &mut |c| {
            seen.push(c.to_vec());
            false
        });
        assert_eq!(
            seen,
            vec![
                vec![0, 1],
                vec![0, 2],
                vec![0, 3],
                vec![1, 2],
                vec![1, 3],
                vec![2, 3]
            ]
        );
        let mut empty = 0;
        for_each_combination(3, 0, &mut |c| {
            assert!(c.is_empty());
            empty += 1;
            false
        });
        assert_eq!(empty, 1);
    }
}
