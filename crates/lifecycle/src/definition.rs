//! Contract definitions and approvals as plain values, and their protobuf encodings
//! (Fabric's `lifecycle` messages, through `cambium-wire`).
//!
//! A [`Definition`] holds what Fabric's `ChaincodeDefinition` holds, plus Cambium's optional
//! canary [`RolloutPlan`] (see [`crate::rollout`]). The plan travels as extension field 1001 of
//! Fabric's approve, readiness and commit arguments, is part of what orgs approve (a different
//! plan is a mismatch named `Rollout`), and is committed as a further field,
//! `namespaces/fields/<name>/Rollout`, listed in the definition's metadata only when present,
//! so definitions without a plan keep exactly Fabric's layout.

use cambium_primitives::SignaturePolicyEnvelope;
use cambium_wire::common::{self, application_policy};
use cambium_wire::lifecycle::{
    chaincode_source, ChaincodeEndorsementInfo, ChaincodeSource, ChaincodeValidationInfo,
    QueryApprovedChaincodeDefinitionResult,
};
use cambium_wire::Message;

use crate::error::{LifecycleError, Result};
use crate::rollout::{append_plan, plan_from_message, RolloutPlan};
use crate::{DEFAULT_ENDORSEMENT_PLUGIN, DEFAULT_ENDORSEMENT_POLICY, DEFAULT_VALIDATION_PLUGIN};

/// The endorsement policy a definition carries (Fabric's `common.ApplicationPolicy`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApplicationPolicy {
    /// An explicit signature policy, e.g. `AND('Org1MSP.peer', 'Org2MSP.peer')`.
    Signature(SignaturePolicyEnvelope),
    /// A reference to a channel policy, as an absolute path such as
    /// `/Channel/Application/Endorsement`.
    ChannelReference(String),
}

impl ApplicationPolicy {
    /// The default: a reference to `/Channel/Application/Endorsement`.
    pub fn default_policy() -> ApplicationPolicy {
        ApplicationPolicy::ChannelReference(DEFAULT_ENDORSEMENT_POLICY.to_owned())
    }

    /// The `common.ApplicationPolicy` bytes.
    pub fn encode(&self) -> Vec<u8> {
        let policy = match self {
            ApplicationPolicy::Signature(env) => application_policy::Type::SignaturePolicy(
                common::SignaturePolicyEnvelope::from(env),
            ),
            ApplicationPolicy::ChannelReference(path) => {
                application_policy::Type::ChannelConfigPolicyReference(path.clone())
            }
        };
        common::ApplicationPolicy {
            r#type: Some(policy),
        }
        .encode_to_vec()
    }

    /// Decodes `common.ApplicationPolicy` bytes. A channel reference that is not absolute is
    /// taken relative to `/Channel/Application`, as Fabric's policy manager resolves it.
    pub fn decode(bytes: &[u8]) -> Result<ApplicationPolicy> {
        let bad = |why: String| {
            LifecycleError::BadArguments(format!(
                "the validation parameter is not a valid ApplicationPolicy: {why}; pass a signature policy or a channel policy reference"
            ))
        };
        let policy = common::ApplicationPolicy::decode(bytes).map_err(|e| bad(e.to_string()))?;
        match policy.r#type {
            Some(application_policy::Type::SignaturePolicy(env)) => {
                let env =
                    SignaturePolicyEnvelope::try_from(&env).map_err(|e| bad(e.to_string()))?;
                Ok(ApplicationPolicy::Signature(env))
            }
            Some(application_policy::Type::ChannelConfigPolicyReference(path)) => {
                if path.is_empty() {
                    return Err(bad("the channel policy reference is empty".to_owned()));
                }
                let path = if path.starts_with('/') {
                    path
                } else {
                    format!("/Channel/Application/{path}")
                };
                Ok(ApplicationPolicy::ChannelReference(path))
            }
            None => Err(bad(
                "it names neither a signature policy nor a channel policy".to_owned(),
            )),
        }
    }
}

/// What a channel agrees for one contract name at one sequence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Definition {
    /// How many times a definition has been committed for the name, this one included.
    pub sequence: i64,
    /// The contract's version string (goes into `ChaincodeAction.chaincode_id.version`).
    pub version: String,
    /// The endorsement plugin (`escc`).
    pub endorsement_plugin: String,
    /// The validation plugin (`vscc`).
    pub validation_plugin: String,
    /// The `common.ApplicationPolicy` bytes of the endorsement policy, byte for byte as
    /// approved (orgs must approve identical bytes).
    pub validation_parameter: Vec<u8>,
    /// Whether the first invoke must be the init call.
    pub init_required: bool,
    /// Cambium's canary rollout plan, as approved and committed (its live state is kept
    /// under the rollout key, see [`crate::rollout`]); `None` switches all traffic at commit.
    pub rollout: Option<RolloutPlan>,
    /// Cambium's upgrade policy of the definition (a signature policy in Fabric's DSL), as
    /// approved and committed: the next definition's commit must satisfy it (see
    /// [`crate::upgrade_policy`]); `None` leaves upgrades to `LifecycleEndorsement` alone.
    pub upgrade_policy: Option<String>,
}

impl Definition {
    /// A definition with Fabric's defaults: plugins `escc`/`vscc`, the
    /// `/Channel/Application/Endorsement` policy, no init.
    pub fn new(sequence: i64, version: &str) -> Definition {
        Definition {
            sequence,
            version: version.to_owned(),
            endorsement_plugin: DEFAULT_ENDORSEMENT_PLUGIN.to_owned(),
            validation_plugin: DEFAULT_VALIDATION_PLUGIN.to_owned(),
            validation_parameter: ApplicationPolicy::default_policy().encode(),
            init_required: false,
            rollout: None,
            upgrade_policy: None,
        }
    }

    /// The same definition carrying `upgrade_policy` (builder style; an empty string is none).
    pub fn with_upgrade_policy(self, upgrade_policy: Option<String>) -> Definition {
        Definition {
            upgrade_policy: upgrade_policy.filter(|p| !p.is_empty()),
            ..self
        }
    }

    /// The same definition carrying `rollout` (builder style).
    pub fn with_rollout(self, rollout: Option<RolloutPlan>) -> Definition {
        Definition { rollout, ..self }
    }

    /// Builds a definition from the fields of an approve, readiness or commit request,
    /// filling Fabric's defaults for empty plugins and policy, and refusing collections.
    #[allow(clippy::too_many_arguments)]
    pub fn from_args(
        name: &str,
        sequence: i64,
        version: &str,
        endorsement_plugin: &str,
        validation_plugin: &str,
        validation_parameter: &[u8],
        collections: Option<&cambium_wire::peer::CollectionConfigPackage>,
        init_required: bool,
    ) -> Result<Definition> {
        check_name(name)?;
        if sequence < 1 {
            return Err(LifecycleError::BadArguments(format!(
                "sequence {sequence} is invalid for '{name}': sequences start at 1"
            )));
        }
        if version.is_empty() {
            return Err(LifecycleError::BadArguments(format!(
                "the definition of '{name}' has an empty version; pass --version"
            )));
        }
        if collections.is_some_and(|c| !c.config.is_empty()) {
            return Err(LifecycleError::BadArguments(format!(
                "the definition of '{name}' names private data collections, which Cambium does not support yet; approve it without a collections config"
            )));
        }
        let validation_parameter = if validation_parameter.is_empty() {
            ApplicationPolicy::default_policy().encode()
        } else {
            ApplicationPolicy::decode(validation_parameter)?;
            validation_parameter.to_vec()
        };
        let or_default = |s: &str, d: &str| {
            if s.is_empty() {
                d.to_owned()
            } else {
                s.to_owned()
            }
        };
        Ok(Definition {
            sequence,
            version: version.to_owned(),
            endorsement_plugin: or_default(endorsement_plugin, DEFAULT_ENDORSEMENT_PLUGIN),
            validation_plugin: or_default(validation_plugin, DEFAULT_VALIDATION_PLUGIN),
            validation_parameter,
            init_required,
            rollout: None,
            upgrade_policy: None,
        })
    }

    /// The endorsement policy.
    pub fn endorsement_policy(&self) -> Result<ApplicationPolicy> {
        ApplicationPolicy::decode(&self.validation_parameter)
    }

    /// The `lifecycle.ChaincodeEndorsementInfo` bytes (the `EndorsementInfo` field).
    pub fn endorsement_info(&self) -> Vec<u8> {
        ChaincodeEndorsementInfo {
            version: self.version.clone(),
            init_required: self.init_required,
            endorsement_plugin: self.endorsement_plugin.clone(),
        }
        .encode_to_vec()
    }

    /// The `lifecycle.ChaincodeValidationInfo` bytes (the `ValidationInfo` field).
    pub fn validation_info(&self) -> Vec<u8> {
        ChaincodeValidationInfo {
            validation_plugin: self.validation_plugin.clone(),
            validation_parameter: self.validation_parameter.clone(),
        }
        .encode_to_vec()
    }

    /// The Fabric field names (`EndorsementInfo`, `ValidationInfo`) in which `other`
    /// differs from this definition, ignoring the sequence; empty if they agree.
    pub fn mismatches(&self, other: &Definition) -> Vec<String> {
        let mut out = Vec::new();
        if self.endorsement_info() != other.endorsement_info() {
            out.push("EndorsementInfo".to_owned());
        }
        if self.validation_info() != other.validation_info() {
            out.push("ValidationInfo".to_owned());
        }
        if self.rollout != other.rollout {
            out.push("Rollout".to_owned());
        }
        if self.upgrade_policy != other.upgrade_policy {
            out.push("UpgradePolicy".to_owned());
        }
        out
    }
}

/// Where an org's peers get the code of an approved definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackageSource {
    /// The org approved without a package installed (it will not endorse the contract).
    Unavailable,
    /// An installed package, by package ID.
    Local(String),
}

impl PackageSource {
    /// The `lifecycle.ChaincodeSource` message.
    pub fn to_wire(&self) -> ChaincodeSource {
        let r#type = match self {
            PackageSource::Unavailable => {
                chaincode_source::Type::Unavailable(chaincode_source::Unavailable {})
            }
            PackageSource::Local(id) => {
                chaincode_source::Type::LocalPackage(chaincode_source::Local {
                    package_id: id.clone(),
                })
            }
        };
        ChaincodeSource {
            r#type: Some(r#type),
        }
    }

    /// From a `lifecycle.ChaincodeSource`; a missing one or an empty package ID is
    /// [`PackageSource::Unavailable`], as Fabric reads it.
    pub fn from_wire(source: Option<&ChaincodeSource>) -> PackageSource {
        match source.and_then(|s| s.r#type.as_ref()) {
            Some(chaincode_source::Type::LocalPackage(local)) if !local.package_id.is_empty() => {
                PackageSource::Local(local.package_id.clone())
            }
            _ => PackageSource::Unavailable,
        }
    }

    /// The package ID, if the source is local.
    pub fn package_id(&self) -> Option<&str> {
        match self {
            PackageSource::Local(id) => Some(id),
            PackageSource::Unavailable => None,
        }
    }
}

/// One org's approval of a definition: the definition and its own package source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    /// The approved definition.
    pub definition: Definition,
    /// The package this org's peers run for it.
    pub source: PackageSource,
}

impl Approval {
    /// The `QueryApprovedChaincodeDefinitionResult` message for this approval (also the
    /// value Cambium stores under the approval key).
    pub fn to_wire(&self) -> QueryApprovedChaincodeDefinitionResult {
        let d = &self.definition;
        QueryApprovedChaincodeDefinitionResult {
            sequence: d.sequence,
            version: d.version.clone(),
            endorsement_plugin: d.endorsement_plugin.clone(),
            validation_plugin: d.validation_plugin.clone(),
            validation_parameter: d.validation_parameter.clone(),
            collections: None,
            init_required: d.init_required,
            source: Some(self.source.to_wire()),
        }
    }

    /// The stored bytes of this approval (also the `QueryApprovedChaincodeDefinitionResult`
    /// bytes): the Fabric message, then the rollout plan, if any, as field 1001.
    pub fn encode(&self) -> Vec<u8> {
        let mut bytes = self.to_wire().encode_to_vec();
        if let Some(plan) = &self.definition.rollout {
            append_plan(plan, &mut bytes);
        }
        if let Some(policy) = &self.definition.upgrade_policy {
            crate::upgrade_policy::append(policy, &mut bytes);
        }
        bytes
    }

    /// Decodes stored approval bytes.
    pub fn decode(bytes: &[u8]) -> Result<Approval> {
        let r = QueryApprovedChaincodeDefinitionResult::decode(bytes).map_err(|e| {
            LifecycleError::Storage(format!("a stored approval cannot be decoded: {e}"))
        })?;
        Ok(Approval {
            definition: Definition {
                sequence: r.sequence,
                version: r.version,
                endorsement_plugin: r.endorsement_plugin,
                validation_plugin: r.validation_plugin,
                validation_parameter: r.validation_parameter,
                init_required: r.init_required,
                rollout: plan_from_message(bytes)
                    .map_err(|e| LifecycleError::Storage(format!("a stored approval's {e}")))?,
                upgrade_policy: crate::upgrade_policy::from_message(bytes)
                    .map_err(|e| LifecycleError::Storage(format!("a stored approval's {e}")))?,
            },
            source: PackageSource::from_wire(r.source.as_ref()),
        })
    }
}

/// Fabric's contract name rule: `^[a-zA-Z0-9]+([-_][a-zA-Z0-9]+)*$`, and not `_lifecycle`
/// or another system contract.
pub fn check_name(name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name
            .split(['-', '_'])
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric()));
    if !valid {
        return Err(LifecycleError::BadArguments(format!(
            "invalid chaincode name '{name}'. Names can only consist of alphanumerics, '_', and '-' and can only begin and end with alphanumerics"
        )));
    }
    if ["lscc", "qscc", "cscc", "escc", "vscc"].contains(&name) {
        return Err(LifecycleError::BadArguments(format!(
            "chaincode name '{name}' is the name of a system chaincode; choose another name"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_filled_and_collections_refused() {
        let d = Definition::from_args("basic", 1, "1.0", "", "", &[], None, false).unwrap();
        assert_eq!(d, Definition::new(1, "1.0"));
        assert_eq!(
            d.endorsement_policy().unwrap(),
            ApplicationPolicy::ChannelReference(DEFAULT_ENDORSEMENT_POLICY.to_owned())
        );
        let collections = cambium_wire::peer::CollectionConfigPackage {
            config: vec![Default::default()],
        };
        let err = Definition::from_args("basic", 1, "1.0", "", "", &[], Some(&collections), false)
            .unwrap_err();
        assert!(err.to_string().contains("collections"), "{err}");
        assert!(Definition::from_args("basic", 0, "1.0", "", "", &[], None, false).is_err());
        assert!(Definition::from_args("basic", 1, "", "", "", &[], None, false).is_err());
        assert!(Definition::from_args("bad name", 1, "1", "", "", &[], None, false).is_err());
        assert!(Definition::from_args("x", 1, "1", "", "", b"\xff", None, false).is_err());
    }

    #[test]
    fn relative_channel_references_resolve_under_application() {
        let bytes = common::ApplicationPolicy {
            r#type: Some(application_policy::Type::ChannelConfigPolicyReference(
                "Writers".into(),
            )),
        }
        .encode_to_vec();
        assert_eq!(
            ApplicationPolicy::decode(&bytes).unwrap(),
            ApplicationPolicy::ChannelReference("/Channel/Application/Writers".into())
        );
    }

    #[test]
    fn approvals_round_trip_and_mismatches_name_fields() {
        let a = Approval {
            definition: Definition::new(2, "2.0"),
            source: PackageSource::Local("basic_2:abcd".into()),
        };
        assert_eq!(Approval::decode(&a.encode()).unwrap(), a);
        let mut other = a.definition.clone();
        assert!(a.definition.mismatches(&other).is_empty());
        other.init_required = true;
        other.validation_plugin = "custom".into();
        assert_eq!(
            a.definition.mismatches(&other),
            ["EndorsementInfo", "ValidationInfo"]
        );
        // A rollout plan is approved like any other field and survives storage.
        let canary = Approval {
            definition: a.definition.clone().with_rollout(Some(RolloutPlan {
                weight_percent: 10,
                ..Default::default()
            })),
            ..a.clone()
        };
        assert_eq!(Approval::decode(&canary.encode()).unwrap(), canary);
        assert_eq!(a.definition.mismatches(&canary.definition), ["Rollout"]);
        let none = Approval {
            definition: Definition::new(1, "1"),
            source: PackageSource::Unavailable,
        };
        assert_eq!(Approval::decode(&none.encode()).unwrap(), none);
    }

    #[test]
    fn names_follow_fabric_rule() {
        for ok in ["basic", "asset-transfer", "a_b-c1"] {
            check_name(ok).unwrap();
        }
        for bad in ["", "-a", "a-", "a--b", "a.b", "qscc"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
