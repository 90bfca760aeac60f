//! Evaluating signature policies over signed data, with Fabric's exact semantics.
//!
//! Fabric (`common/policies/policy.go` `SignatureSetToValidIdentities`, then
//! `common/cauthdsl/cauthdsl.go`) first turns signatures into identities: an identity that
//! already appeared is skipped *before* its signature is checked (so repeating one signature
//! costs nothing), a bad signature drops that entry, and only then is the identity remembered.
//! The rule tree is then evaluated greedily over `used` flags: a `SignedBy` leaf takes the first
//! unused identity that satisfies its principal; a gate evaluates every sub-rule on a copy of
//! the flags and keeps the copy only when that sub-rule succeeded, so a failed branch gives its
//! identities back. There is no further backtracking: a leaf never reconsiders its choice.

use std::collections::BTreeSet;

use cambium_primitives::{Principal, SerializedIdentity, SignaturePolicy, SignaturePolicyEnvelope};

use super::{format, PolicyError, Result};
use crate::identity::Identity;
use crate::msp::{principal_to_string, MspManager};

/// One signature to check: `signature` by `identity` over `data` (Fabric's `SignedData`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedData {
    /// The signed bytes.
    pub data: Vec<u8>,
    /// Who claims to have signed.
    pub identity: SerializedIdentity,
    /// DER ECDSA signature over SHA-256(`data`).
    pub signature: Vec<u8>,
}

/// A signature that was dropped before policy evaluation, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RejectedSignature {
    /// Position in the signed-data list.
    pub index: usize,
    /// The MSP ID the signer claimed.
    pub msp_id: String,
    /// Why it was dropped (invalid identity, bad signature, …).
    pub reason: String,
}

/// Identities whose signatures verified, de-duplicated, in the order they were given.
#[derive(Clone, Debug, Default)]
pub struct VerifiedSignatures {
    /// The valid, distinct signers.
    pub identities: Vec<Identity>,
    /// Entries dropped because the identity or the signature was not valid.
    pub rejected: Vec<RejectedSignature>,
    /// How many entries were skipped as repeats of an identity already counted.
    pub duplicates: usize,
}

/// Validates each signer (at `at`, unix seconds) and verifies each signature once.
pub fn verify_signed_data(signed: &[SignedData], msps: &MspManager, at: i64) -> VerifiedSignatures {
    let mut out = VerifiedSignatures::default();
    let mut seen: BTreeSet<(String, [u8; 32])> = BTreeSet::new();
    for (index, sd) in signed.iter().enumerate() {
        let reject = |reason: String| RejectedSignature {
            index,
            msp_id: sd.identity.msp_id.clone(),
            reason,
        };
        let identity = match msps.validate(&sd.identity, at) {
            Ok(identity) => identity,
            Err(e) => {
                out.rejected.push(reject(e.to_string()));
                continue;
            }
        };
        // Compare by the signed part of the certificate: a re-encoded signature on the same
        // certificate must not count as a second identity.
        let key = (
            identity.msp_id().to_owned(),
            *identity.certificate().tbs_hash(),
        );
        if seen.contains(&key) {
            out.duplicates += 1;
            continue;
        }
        if let Err(e) = identity.verify(&sd.data, &sd.signature) {
            out.rejected.push(reject(e.to_string()));
            continue;
        }
        seen.insert(key);
        out.identities.push(identity);
    }
    out
}

/// The outcome of evaluating a signature policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    /// Whether the policy is satisfied.
    pub satisfied: bool,
    /// When not satisfied: the principals of the leaves that found no signer, outside gates
    /// that were satisfied anyway, in rule order, without repeats.
    pub unsatisfied: Vec<Principal>,
}

/// Checks that every `SignedBy` index points at an identity and the version is 0.
fn check_envelope(envelope: &SignaturePolicyEnvelope) -> Result<()> {
    if envelope.version != 0 {
        return Err(PolicyError::Malformed {
            problem: format!(
                "version {} is not understood; only version 0 exists",
                envelope.version
            ),
        });
    }
    fn walk(rule: &SignaturePolicy, count: usize) -> Result<()> {
        match rule {
            SignaturePolicy::SignedBy(i) if (*i as usize) < count => Ok(()),
            SignaturePolicy::SignedBy(i) => Err(PolicyError::Malformed {
                problem: format!(
                    "SignedBy({i}) refers to identity {i} but the policy lists {count}"
                ),
            }),
            SignaturePolicy::NOutOf { rules, .. } => rules.iter().try_for_each(|r| walk(r, count)),
        }
    }
    walk(&envelope.rule, envelope.identities.len())
}

struct Evaluator<'a> {
    /// `matches[p][i]`: whether identity `i` satisfies principal `p`.
    matches: Vec<Vec<bool>>,
    identities: &'a [Principal],
    failed_leaves: Vec<u32>,
}

impl Evaluator<'_> {
    fn eval(&mut self, rule: &SignaturePolicy, used: &mut [bool]) -> bool {
        match rule {
            SignaturePolicy::SignedBy(p) => {
                let row = &self.matches[*p as usize];
                for (i, ok) in row.iter().enumerate() {
                    if *ok && !used[i] {
                        used[i] = true;
                        return true;
                    }
                }
                self.failed_leaves.push(*p);
                false
            }
            SignaturePolicy::NOutOf { n, rules } => {
                let mut verified = 0u32;
                let failures_before = self.failed_leaves.len();
                let mut scratch = used.to_vec();
                for r in rules {
                    scratch.copy_from_slice(used);
                    if self.eval(r, &mut scratch) {
                        verified += 1;
                        used.copy_from_slice(&scratch);
                    }
                }
                let satisfied = verified >= *n;
                if satisfied {
                    // Leaves that failed inside a satisfied gate are not what is missing.
                    self.failed_leaves.truncate(failures_before);
                }
                satisfied
            }
        }
    }
}

/// Evaluates a signature policy over verified signers.
pub fn evaluate(
    envelope: &SignaturePolicyEnvelope,
    signers: &VerifiedSignatures,
    msps: &MspManager,
) -> Result<Evaluation> {
    check_envelope(envelope)?;
    let matches = envelope
        .identities
        .iter()
        .map(|p| {
            signers
                .identities
                .iter()
                .map(|id| msps.satisfies_principal(id, p).is_ok())
                .collect()
        })
        .collect();
    let mut ev = Evaluator {
        matches,
        identities: &envelope.identities,
        failed_leaves: Vec::new(),
    };
    let mut used = vec![false; signers.identities.len()];
    let satisfied = ev.eval(&envelope.rule, &mut used);
    let mut unsatisfied: Vec<Principal> = Vec::new();
    if !satisfied {
        for p in &ev.failed_leaves {
            let principal = &ev.identities[*p as usize];
            if !unsatisfied.contains(principal) {
                unsatisfied.push(principal.clone());
            }
        }
    }
    Ok(Evaluation {
        satisfied,
        unsatisfied,
    })
}

/// Explains why a policy failed: missing principals and ignored signatures.
pub(crate) fn explain(unsatisfied: &[Principal], signers: &VerifiedSignatures) -> String {
    let names: Vec<String> = unsatisfied.iter().map(principal_to_string).collect();
    let mut reason = match names.as_slice() {
        [] => "not enough signatures".to_owned(),
        [one] => format!("missing a signature from {one}"),
        many => format!(
            "missing signatures: none of the signers satisfied {}",
            many.join(", ")
        ),
    };
    if !signers.rejected.is_empty() {
        let details: Vec<String> = signers
            .rejected
            .iter()
            .map(|r| format!("signature #{} ({}): {}", r.index + 1, r.msp_id, r.reason))
            .collect();
        reason.push_str(&format!(
            "; {} signature(s) were ignored: {}",
            signers.rejected.len(),
            details.join("; ")
        ));
    }
    reason
}

/// Verifies `signed` at `at` and evaluates `envelope` over it; on failure the error names the
/// policy (as `name`, e.g. "endorsement policy") and what was missing.
pub fn evaluate_signed_data(
    name: &str,
    envelope: &SignaturePolicyEnvelope,
    signed: &[SignedData],
    msps: &MspManager,
    at: i64,
) -> Result<()> {
    let signers = verify_signed_data(signed, msps, at);
    let ev = evaluate(envelope, &signers, msps)?;
    if ev.satisfied {
        return Ok(());
    }
    Err(PolicyError::NotSatisfied {
        name: name.to_owned(),
        policy: format(envelope),
        reason: explain(&ev.unsatisfied, &signers),
    })
}
