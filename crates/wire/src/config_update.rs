//! Config updates as Fabric carries them: `common.ConfigUpdate` (a read set and a write set of
//! the config tree), `common.ConfigUpdateEnvelope` (the update's bytes and the admins'
//! signatures over them) and `common.ConfigSignature`.
//!
//! Write sets hold *placeholders*: elements that carry only a version, to say "this member
//! stays as it is". A placeholder value has no bytes that decode as the value its key implies,
//! so update trees are [`RawConfigGroup`]s, whose values and policies stay as the bytes
//! received. [`RawConfigGroup::to_config_group`] decodes a complete tree once it is whole.

use std::collections::BTreeMap;

use prost::Message;

use crate::common;
use crate::config::ConfigGroup;
use crate::error::{Result, WireError};

/// A config group whose values and policies are kept as bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawConfigGroup {
    /// The group's version.
    pub version: u64,
    /// Child groups by name.
    pub groups: BTreeMap<String, RawConfigGroup>,
    /// Values by key.
    pub values: BTreeMap<String, RawConfigValue>,
    /// Policies by name.
    pub policies: BTreeMap<String, RawConfigPolicy>,
    /// The policy that must be satisfied to change this group's membership.
    pub mod_policy: String,
}

/// A config value with its bytes as received (empty in a placeholder).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawConfigValue {
    /// The value's version.
    pub version: u64,
    /// `ConfigValue.value`.
    pub value: Vec<u8>,
    /// The policy that must be satisfied to change this value.
    pub mod_policy: String,
}

/// A config policy with the bytes of its `common.Policy` (`None` in a placeholder).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawConfigPolicy {
    /// The policy's version.
    pub version: u64,
    /// The bytes of `common.Policy`, if present.
    pub policy: Option<Vec<u8>>,
    /// The policy that must be satisfied to change this policy.
    pub mod_policy: String,
}

/// `common.ConfigUpdate`: what a config transaction reads and writes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigUpdate {
    /// The channel the update is for.
    pub channel_id: String,
    /// Elements whose versions must be unchanged for the update to apply.
    pub read_set: RawConfigGroup,
    /// Elements to write, at their new versions, and placeholders for unchanged members.
    pub write_set: RawConfigGroup,
}

/// `common.ConfigSignature`: one admin's signature over an update.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigSignature {
    /// Bytes of `common.SignatureHeader{creator, nonce}`.
    pub signature_header: Vec<u8>,
    /// Signature over `signature_header ‖ config_update`.
    pub signature: Vec<u8>,
}

/// `common.ConfigUpdateEnvelope`: an update's bytes, kept exactly as signed, and signatures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigUpdateEnvelope {
    /// Bytes of `common.ConfigUpdate`.
    pub config_update: Vec<u8>,
    /// The signatures collected so far.
    pub signatures: Vec<ConfigSignature>,
}

impl From<&ConfigGroup> for RawConfigGroup {
    fn from(g: &ConfigGroup) -> Self {
        RawConfigGroup::from(&common::ConfigGroup::from(g))
    }
}

impl From<&common::ConfigGroup> for RawConfigGroup {
    fn from(g: &common::ConfigGroup) -> Self {
        RawConfigGroup {
            version: g.version,
            groups: g
                .groups
                .iter()
                .map(|(k, v)| (k.clone(), RawConfigGroup::from(v)))
                .collect(),
            values: g
                .values
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        RawConfigValue {
                            version: v.version,
                            value: v.value.clone(),
                            mod_policy: v.mod_policy.clone(),
                        },
                    )
                })
                .collect(),
            policies: g
                .policies
                .iter()
                .map(|(k, p)| {
                    (
                        k.clone(),
                        RawConfigPolicy {
                            version: p.version,
                            policy: p.policy.as_ref().map(Message::encode_to_vec),
                            mod_policy: p.mod_policy.clone(),
                        },
                    )
                })
                .collect(),
            mod_policy: g.mod_policy.clone(),
        }
    }
}

impl RawConfigGroup {
    fn to_wire(&self) -> Result<common::ConfigGroup> {
        let mut groups = BTreeMap::new();
        for (name, g) in &self.groups {
            groups.insert(name.clone(), g.to_wire()?);
        }
        let mut policies = BTreeMap::new();
        for (name, p) in &self.policies {
            let policy = match &p.policy {
                Some(bytes) => Some(
                    common::Policy::decode(bytes.as_slice())
                        .map_err(WireError::decode("common.Policy"))?,
                ),
                None => None,
            };
            policies.insert(
                name.clone(),
                common::ConfigPolicy {
                    version: p.version,
                    policy,
                    mod_policy: p.mod_policy.clone(),
                },
            );
        }
        Ok(common::ConfigGroup {
            version: self.version,
            groups,
            values: self
                .values
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        common::ConfigValue {
                            version: v.version,
                            value: v.value.clone(),
                            mod_policy: v.mod_policy.clone(),
                        },
                    )
                })
                .collect(),
            policies,
            mod_policy: self.mod_policy.clone(),
        })
    }

    /// Decodes every value and policy of a complete tree (no placeholders left).
    pub fn to_config_group(&self) -> Result<ConfigGroup> {
        ConfigGroup::try_from(&self.to_wire()?)
    }
}

impl ConfigUpdate {
    /// The bytes of `common.ConfigUpdate` (what admins sign).
    pub fn encode(&self) -> Result<Vec<u8>> {
        Ok(common::ConfigUpdate {
            channel_id: self.channel_id.clone(),
            read_set: Some(self.read_set.to_wire()?),
            write_set: Some(self.write_set.to_wire()?),
            isolated_data: BTreeMap::new(),
        }
        .encode_to_vec())
    }

    /// Decodes `common.ConfigUpdate` bytes.
    pub fn decode(bytes: &[u8]) -> Result<ConfigUpdate> {
        let u = common::ConfigUpdate::decode(bytes)
            .map_err(WireError::decode("common.ConfigUpdate"))?;
        Ok(ConfigUpdate {
            channel_id: u.channel_id,
            read_set: u
                .read_set
                .as_ref()
                .map(RawConfigGroup::from)
                .unwrap_or_default(),
            write_set: u
                .write_set
                .as_ref()
                .map(RawConfigGroup::from)
                .unwrap_or_default(),
        })
    }
}

impl ConfigUpdateEnvelope {
    /// The bytes of `common.ConfigUpdateEnvelope` (the data of a `CONFIG_UPDATE` payload).
    pub fn encode(&self) -> Vec<u8> {
        common::ConfigUpdateEnvelope {
            config_update: self.config_update.clone(),
            signatures: self
                .signatures
                .iter()
                .map(|s| common::ConfigSignature {
                    signature_header: s.signature_header.clone(),
                    signature: s.signature.clone(),
                })
                .collect(),
        }
        .encode_to_vec()
    }

    /// Decodes `common.ConfigUpdateEnvelope` bytes.
    pub fn decode(bytes: &[u8]) -> Result<ConfigUpdateEnvelope> {
        let e = common::ConfigUpdateEnvelope::decode(bytes)
            .map_err(WireError::decode("common.ConfigUpdateEnvelope"))?;
        Ok(ConfigUpdateEnvelope {
            config_update: e.config_update,
            signatures: e
                .signatures
                .into_iter()
                .map(|s| ConfigSignature {
                    signature_header: s.signature_header,
                    signature: s.signature,
                })
                .collect(),
        })
    }
}

/// The creator bytes (a serialized identity) of a config signature's header.
pub fn config_signature_creator(signature: &ConfigSignature) -> Result<Vec<u8>> {
    let header = common::SignatureHeader::decode(signature.signature_header.as_slice())
        .map_err(WireError::decode("common.SignatureHeader"))?;
    Ok(header.creator)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigPolicy, ConfigValue, Value};

    fn sample_group() -> ConfigGroup {
        let mut root = ConfigGroup {
            version: 3,
            mod_policy: "Admins".into(),
            ..Default::default()
        };
        root.values.insert(
            "BatchTimeout".into(),
            ConfigValue {
                version: 1,
                value: Value::BatchTimeout("2s".into()),
                mod_policy: "Admins".into(),
            },
        );
        root.policies.insert(
            "Admins".into(),
            ConfigPolicy {
                version: 0,
                policy: cambium_primitives::Policy::ImplicitMeta(
                    cambium_primitives::ImplicitMetaPolicy {
                        sub_policy: "Admins".into(),
                        rule: cambium_primitives::ImplicitMetaRule::Majority,
                    },
                ),
                mod_policy: "Admins".into(),
            },
        );
        root.groups
            .insert("Application".into(), ConfigGroup::default());
        root
    }

    #[test]
    fn raw_trees_round_trip_to_typed_trees() {
        let typed = sample_group();
        let raw = RawConfigGroup::from(&typed);
        assert_eq!(raw.to_config_group().unwrap(), typed);
        // The raw tree encodes the same bytes the typed tree does.
        assert_eq!(
            raw.to_wire().unwrap().encode_to_vec(),
            common::ConfigGroup::from(&typed).encode_to_vec()
        );
    }

    #[test]
    fn placeholders_survive_encoding_but_do_not_decode_as_values() {
        let mut write = RawConfigGroup {
            version: 4,
            ..Default::default()
        };
        write.values.insert(
            "BatchTimeout".into(),
            RawConfigValue {
                version: 1,
                ..Default::default()
            },
        );
        write.policies.insert(
            "Admins".into(),
            RawConfigPolicy {
                version: 0,
                ..Default::default()
            },
        );
        let update = ConfigUpdate {
            channel_id: "mychannel".into(),
            read_set: RawConfigGroup::default(),
            write_set: write.clone(),
        };
        let back = ConfigUpdate::decode(&update.encode().unwrap()).unwrap();
        assert_eq!(back, update);
        assert!(back.write_set.to_config_group().is_err());

        let env = ConfigUpdateEnvelope {
            config_update: update.encode().unwrap(),
            signatures: vec![ConfigSignature {
                signature_header: crate::tx::signature_header_bytes(b"creator", b"nonce"),
                signature: vec![1, 2, 3],
            }],
        };
        let back = ConfigUpdateEnvelope::decode(&env.encode()).unwrap();
        assert_eq!(back, env);
        assert_eq!(
            config_signature_creator(&back.signatures[0]).unwrap(),
            b"creator"
        );
        assert!(ConfigUpdate::decode(&[0xff, 0xff]).is_err());
    }
}
