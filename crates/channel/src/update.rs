//! Channel config updates as Fabric's `configtx` computes and authorizes them.
//!
//! - [`compute_update`] diffs two config trees into a `ConfigUpdate` (what `configtxlator
//!   compute_update` does): the write set carries every changed element at its version + 1, and
//!   a group whose membership changed is written whole, unchanged members as version-only
//!   placeholders (which is how members are removed: by leaving them out).
//! - [`sign_update`] adds one admin's `ConfigSignature`.
//! - [`ChannelConfig::authorize_update`] is the orderer's check: the read set must match the
//!   current versions, every element the update changes must be exactly one version ahead (or
//!   new at version 0), and the signatures must satisfy the `mod_policy` of each changed element
//!   *as it is now*: relative to the group itself for a group, to the containing group for a
//!   value or policy, or absolute when it starts with `/`. The result is the next config
//!   (sequence + 1), checked like any other.

use std::collections::BTreeMap;
use std::fmt;

use cambium_msp::policy::SignedData;
use cambium_msp::SigningIdentity;
use cambium_wire::config::ConfigGroup;
use cambium_wire::config_update::{
    config_signature_creator, ConfigSignature, ConfigUpdate, ConfigUpdateEnvelope, RawConfigGroup,
    RawConfigPolicy, RawConfigValue,
};

use crate::config::ChannelConfig;
use crate::error::{ChannelError, Result};

/// The name of the root group of every channel config.
const ROOT: &str = "Channel";

fn rejected(problem: impl Into<String>) -> ChannelError {
    ChannelError::Update {
        problem: problem.into(),
    }
}

/// Diffs `original` and `updated` (both `Channel` groups) into the update that turns one into
/// the other. Fails when they do not differ.
pub fn compute_update(
    channel_id: &str,
    original: &ConfigGroup,
    updated: &ConfigGroup,
) -> Result<ConfigUpdate> {
    let (read_set, write_set, changed) = group_update(
        &RawConfigGroup::from(original),
        &RawConfigGroup::from(updated),
    );
    if !changed {
        return Err(rejected(
            "the updated config does not differ from the original; change a value, policy or \
             group first",
        ));
    }
    Ok(ConfigUpdate {
        channel_id: channel_id.to_owned(),
        read_set,
        write_set,
    })
}

/// Members that differ, members that stay (as version-only placeholders), and whether the
/// set of member names changed.
struct MapUpdate<T> {
    write: BTreeMap<String, T>,
    same: BTreeMap<String, T>,
    members_changed: bool,
}

fn map_update<T: Clone>(
    original: &BTreeMap<String, T>,
    updated: &BTreeMap<String, T>,
    unchanged: impl Fn(&T, &T) -> bool,
    version: impl Fn(&T) -> u64,
    at_version: impl Fn(&T, u64) -> T,
    placeholder: impl Fn(&T) -> T,
) -> MapUpdate<T> {
    let mut out = MapUpdate {
        write: BTreeMap::new(),
        same: BTreeMap::new(),
        members_changed: false,
    };
    for (name, old) in original {
        match updated.get(name) {
            None => out.members_changed = true,
            Some(new) if unchanged(old, new) => {
                out.same.insert(name.clone(), placeholder(old));
            }
            Some(new) => {
                out.write
                    .insert(name.clone(), at_version(new, version(old) + 1));
            }
        }
    }
    for (name, new) in updated {
        if !original.contains_key(name) {
            out.members_changed = true;
            out.write.insert(name.clone(), at_version(new, 0));
        }
    }
    out
}

/// New groups are written whole with every element at version 0.
fn fresh_group(g: &RawConfigGroup) -> RawConfigGroup {
    RawConfigGroup {
        version: 0,
        groups: g
            .groups
            .iter()
            .map(|(k, c)| (k.clone(), fresh_group(c)))
            .collect(),
        values: g
            .values
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    RawConfigValue {
                        version: 0,
                        ..v.clone()
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
                        version: 0,
                        ..p.clone()
                    },
                )
            })
            .collect(),
        mod_policy: g.mod_policy.clone(),
    }
}

fn group_update(
    original: &RawConfigGroup,
    updated: &RawConfigGroup,
) -> (RawConfigGroup, RawConfigGroup, bool) {
    let policies = map_update(
        &original.policies,
        &updated.policies,
        |a, b| a.mod_policy == b.mod_policy && a.policy == b.policy,
        |p| p.version,
        |p, version| RawConfigPolicy {
            version,
            ..p.clone()
        },
        |p| RawConfigPolicy {
            version: p.version,
            ..Default::default()
        },
    );
    let values = map_update(
        &original.values,
        &updated.values,
        |a, b| a.mod_policy == b.mod_policy && a.value == b.value,
        |v| v.version,
        |v, version| RawConfigValue {
            version,
            ..v.clone()
        },
        |v| RawConfigValue {
            version: v.version,
            ..Default::default()
        },
    );
    let mut read_groups = BTreeMap::new();
    let mut write_groups = BTreeMap::new();
    let mut same_groups = BTreeMap::new();
    let mut groups_changed = false;
    for (name, old) in &original.groups {
        match updated.groups.get(name) {
            None => groups_changed = true,
            Some(new) => {
                let (read, write, changed) = group_update(old, new);
                if changed {
                    read_groups.insert(name.clone(), read);
                    write_groups.insert(name.clone(), write);
                } else {
                    same_groups.insert(name.clone(), read);
                }
            }
        }
    }
    for (name, new) in &updated.groups {
        if !original.groups.contains_key(name) {
            groups_changed = true;
            write_groups.insert(name.clone(), fresh_group(new));
        }
    }
    let members_changed = policies.members_changed
        || values.members_changed
        || groups_changed
        || original.mod_policy != updated.mod_policy;
    if !members_changed {
        let changed =
            !policies.write.is_empty() || !values.write.is_empty() || !write_groups.is_empty();
        let read = RawConfigGroup {
            version: original.version,
            groups: read_groups,
            ..Default::default()
        };
        let write = RawConfigGroup {
            version: original.version,
            groups: write_groups,
            values: values.write,
            policies: policies.write,
            ..Default::default()
        };
        return (read, write, changed);
    }
    // The membership changed: the group is written whole, at the next version, with every
    // unchanged member as a placeholder in both sets.
    let mut write_policies = policies.write;
    let mut read_policies = BTreeMap::new();
    for (k, p) in policies.same {
        read_policies.insert(k.clone(), p.clone());
        write_policies.insert(k, p);
    }
    let mut write_values = values.write;
    let mut read_values = BTreeMap::new();
    for (k, v) in values.same {
        read_values.insert(k.clone(), v.clone());
        write_values.insert(k, v);
    }
    for (k, g) in same_groups {
        read_groups.insert(k.clone(), g.clone());
        write_groups.insert(k, g);
    }
    let read = RawConfigGroup {
        version: original.version,
        groups: read_groups,
        values: read_values,
        policies: read_policies,
        mod_policy: String::new(),
    };
    let write = RawConfigGroup {
        version: original.version + 1,
        groups: write_groups,
        values: write_values,
        policies: write_policies,
        mod_policy: updated.mod_policy.clone(),
    };
    (read, write, true)
}

/// One admin's signature over `config_update` (the bytes of a `ConfigUpdate`): a fresh
/// signature header with the admin as creator, signed together with the update.
pub fn sign_update(config_update: &[u8], signer: &SigningIdentity) -> Result<ConfigSignature> {
    let creator = cambium_wire::encode_serialized_identity(&signer.serialized());
    let nonce = cambium_msp::random_bytes(cambium_wire::tx::NONCE_SIZE)
        .map_err(|e| rejected(format!("cannot draw a nonce: {e}")))?;
    let signature_header = cambium_wire::tx::signature_header_bytes(&creator, &nonce);
    let mut data = signature_header.clone();
    data.extend_from_slice(config_update);
    let signature = signer
        .sign(&data)
        .map_err(|e| rejected(format!("cannot sign the config update: {e}")))?;
    Ok(ConfigSignature {
        signature_header,
        signature,
    })
}

/// What a config element is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Group,
    Value,
    Policy,
}

/// A config element's address: its kind and path from the root (`["Channel", "Application"]`
/// is the Application group; a value's path ends with its key).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    kind: Kind,
    path: Vec<String>,
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            Kind::Group => "group",
            Kind::Value => "value",
            Kind::Policy => "policy",
        };
        write!(f, "{kind} /{}", self.path.join("/"))
    }
}

/// One flattened element.
#[derive(Clone, Debug)]
enum Item {
    Group {
        version: u64,
        mod_policy: String,
        groups: Vec<String>,
        values: Vec<String>,
        policies: Vec<String>,
    },
    Value(RawConfigValue),
    Policy(RawConfigPolicy),
}

impl Item {
    fn version(&self) -> u64 {
        match self {
            Item::Group { version, .. } => *version,
            Item::Value(v) => v.version,
            Item::Policy(p) => p.version,
        }
    }

    fn mod_policy(&self) -> &str {
        match self {
            Item::Group { mod_policy, .. } => mod_policy,
            Item::Value(v) => &v.mod_policy,
            Item::Policy(p) => &p.mod_policy,
        }
    }
}

fn flatten(group: &RawConfigGroup, path: Vec<String>, out: &mut BTreeMap<Key, Item>) {
    for (name, child) in &group.groups {
        let mut p = path.clone();
        p.push(name.clone());
        flatten(child, p, out);
    }
    for (name, value) in &group.values {
        let mut p = path.clone();
        p.push(name.clone());
        out.insert(
            Key {
                kind: Kind::Value,
                path: p,
            },
            Item::Value(value.clone()),
        );
    }
    for (name, policy) in &group.policies {
        let mut p = path.clone();
        p.push(name.clone());
        out.insert(
            Key {
                kind: Kind::Policy,
                path: p,
            },
            Item::Policy(policy.clone()),
        );
    }
    out.insert(
        Key {
            kind: Kind::Group,
            path,
        },
        Item::Group {
            version: group.version,
            mod_policy: group.mod_policy.clone(),
            groups: group.groups.keys().cloned().collect(),
            values: group.values.keys().cloned().collect(),
            policies: group.policies.keys().cloned().collect(),
        },
    );
}

fn flat(root: &RawConfigGroup) -> BTreeMap<Key, Item> {
    let mut out = BTreeMap::new();
    flatten(root, vec![ROOT.to_owned()], &mut out);
    out
}

/// The absolute path of the policy that guards `item` at `key`.
fn mod_policy_path(key: &Key, mod_policy: &str) -> String {
    if mod_policy.starts_with('/') {
        return mod_policy.to_owned();
    }
    // A group's relative mod_policy names a policy of the group itself; a value's or a
    // policy's names one of the group that contains it.
    let scope = match key.kind {
        Kind::Group => &key.path[..],
        Kind::Value | Kind::Policy => &key.path[..key.path.len() - 1],
    };
    format!("/{}/{mod_policy}", scope.join("/"))
}

fn check_mod_policy(key: &Key, mod_policy: &str) -> Result<()> {
    if mod_policy.is_empty() {
        return Err(rejected(format!(
            "{key} has no mod_policy; every written element needs one (usually Admins)"
        )));
    }
    let body = mod_policy.strip_prefix('/').unwrap_or(mod_policy);
    if body.split('/').any(|part| {
        part.is_empty()
            || !part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
    }) {
        return Err(rejected(format!(
            "{key} has mod_policy '{mod_policy}', which is not a policy name or path"
        )));
    }
    Ok(())
}

fn rebuild(map: &BTreeMap<Key, Item>, path: Vec<String>) -> Result<RawConfigGroup> {
    let key = Key {
        kind: Kind::Group,
        path,
    };
    let Some(Item::Group {
        version,
        mod_policy,
        groups,
        values,
        policies,
    }) = map.get(&key)
    else {
        return Err(rejected(format!(
            "{key} is a member of its parent but the update does not define it"
        )));
    };
    let mut out = RawConfigGroup {
        version: *version,
        mod_policy: mod_policy.clone(),
        ..Default::default()
    };
    for name in groups {
        let mut p = key.path.clone();
        p.push(name.clone());
        out.groups.insert(name.clone(), rebuild(map, p)?);
    }
    for (kind, names) in [(Kind::Value, values), (Kind::Policy, policies)] {
        for name in names {
            let mut p = key.path.clone();
            p.push(name.clone());
            let child = Key { kind, path: p };
            match map.get(&child) {
                Some(Item::Value(v)) => {
                    // Empty bytes are a valid encoding (a message with default fields), so
                    // a value is judged when the whole tree decodes.
                    out.values.insert(name.clone(), v.clone());
                }
                Some(Item::Policy(p)) => {
                    if p.policy.is_none() {
                        return Err(rejected(format!(
                            "{child} is new or changed but carries no policy"
                        )));
                    }
                    out.policies.insert(name.clone(), p.clone());
                }
                _ => {
                    return Err(rejected(format!(
                        "{child} is a member of its group but the update does not define it"
                    )))
                }
            }
        }
    }
    Ok(out)
}

impl ChannelConfig {
    /// Checks a config update envelope against this config and returns the config it leads
    /// to (sequence + 1). Signatures are checked at `at` (unix seconds). See the module docs
    /// for the rules; every rejection names the element and what to do.
    pub fn authorize_update(
        &self,
        envelope: &ConfigUpdateEnvelope,
        at: i64,
    ) -> Result<ChannelConfig> {
        let update = ConfigUpdate::decode(&envelope.config_update)
            .map_err(|e| rejected(format!("the ConfigUpdate does not decode: {e}")))?;
        if update.channel_id != self.channel_id() {
            return Err(rejected(format!(
                "the update is for channel '{}' but was sent to channel '{}'",
                update.channel_id,
                self.channel_id()
            )));
        }
        let current = flat(&RawConfigGroup::from(self.channel_group()));
        let read = flat(&update.read_set);
        for (key, item) in &read {
            match current.get(key) {
                None => {
                    return Err(rejected(format!(
                        "the read set names {key}, which is not in the current config; \
                         recompute the update from the latest config block"
                    )))
                }
                Some(existing) if existing.version() != item.version() => {
                    return Err(rejected(format!(
                        "the update requires {key} at version {}, but it is at version {}; \
                         recompute the update from the latest config block",
                        item.version(),
                        existing.version()
                    )))
                }
                Some(_) => {}
            }
        }
        let write = flat(&update.write_set);
        let delta: BTreeMap<&Key, &Item> = write
            .iter()
            .filter(|(key, item)| read.get(*key).is_none_or(|r| r.version() != item.version()))
            .collect();
        if delta.is_empty() {
            return Err(rejected(
                "the update changes nothing (its write set equals its read set)",
            ));
        }
        let signed = signed_data(envelope)?;
        for (key, item) in &delta {
            check_mod_policy(key, item.mod_policy())?;
            let Some(existing) = current.get(*key) else {
                if item.version() != 0 {
                    return Err(rejected(format!(
                        "the update sets {key} to version {}, but it does not exist yet; \
                         new elements start at version 0",
                        item.version()
                    )));
                }
                continue;
            };
            if item.version() != existing.version() + 1 {
                return Err(rejected(format!(
                    "the update sets {key} to version {}, but it is at version {}; an update \
                     moves a changed element exactly one version ahead, so recompute the \
                     update from the latest config block",
                    item.version(),
                    existing.version()
                )));
            }
            let path = mod_policy_path(key, existing.mod_policy());
            self.evaluate(&path, &signed, at)
                .map_err(|e| ChannelError::UpdateNotAuthorized {
                    problem: format!(
                        "the signatures do not satisfy {path}, the mod_policy of {key}: {e}; \
                     collect signatures from enough admins (cambium channel signconfigtx)"
                    ),
                })?;
        }
        let mut merged = current;
        for (key, item) in delta {
            merged.insert(key.clone(), item.clone());
        }
        let root = rebuild(&merged, vec![ROOT.to_owned()])?;
        let rebuilt = flat(&root);
        if let Some(orphan) = write.keys().find(|k| !rebuilt.contains_key(*k)) {
            return Err(rejected(format!(
                "the write set has {orphan}, but its parent group does not list it; write the \
                 parent group at its next version with the new member"
            )));
        }
        let group = root
            .to_config_group()
            .map_err(|e| rejected(format!("the updated config does not decode: {e}")))?;
        ChannelConfig::new(self.channel_id(), self.sequence() + 1, group)
    }
}

fn signed_data(envelope: &ConfigUpdateEnvelope) -> Result<Vec<SignedData>> {
    envelope
        .signatures
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let creator = config_signature_creator(s)
                .map_err(|e| rejected(format!("signature {i} has a malformed header: {e}")))?;
            let identity = cambium_wire::decode_serialized_identity(&creator).map_err(|e| {
                rejected(format!(
                    "signature {i} has a malformed creator identity: {e}"
                ))
            })?;
            let mut data = s.signature_header.clone();
            data.extend_from_slice(&envelope.config_update);
            Ok(SignedData {
                data,
                identity,
                signature: s.signature.clone(),
            })
        })
        .collect()
}
