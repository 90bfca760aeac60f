//! The `_lifecycle` namespace's layout, and the state traits the rules run over.
//!
//! # Keys
//!
//! Committed definitions follow Fabric's serializer: `namespaces/metadata/<name>` holds a
//! `lifecycle.StateMetadata{datatype "ChaincodeDefinition", fields}` and
//! `namespaces/fields/<name>/<Field>` a `lifecycle.StateData` for each field: `Sequence`
//! (Int64), `EndorsementInfo` (`ChaincodeEndorsementInfo` bytes), `ValidationInfo`
//! (`ChaincodeValidationInfo` bytes) and `Collections` (`CollectionConfigPackage` bytes,
//! empty).
//!
//! **Deviation from Fabric:** Fabric keeps each org's approval in the org's implicit private
//! collection (`_implicit_org_<MSPID>`), so other orgs see only hashes. Cambium has no private
//! data yet, so an approval is a public key, `approvals/<MSPID>/<name>#<sequence>`, holding a
//! `QueryApprovedChaincodeDefinitionResult` (the approved parameters and the org's package
//! source). Other orgs can therefore read which package ID an org approved. The validator
//! requires a write to `approvals/<MSPID>/…` to be endorsed by a peer of `<MSPID>`, the
//! equivalent of the implicit collection's endorsement policy.

use std::collections::BTreeMap;

use cambium_ledger::StateReader;
use cambium_primitives::{KvRead, KvWrite, NsRwSet, RangeQueryInfo, RangeQueryReads, Version};
use cambium_wire::lifecycle::{state_data, ChaincodeEndorsementInfo, ChaincodeValidationInfo};
use cambium_wire::lifecycle::{StateData, StateMetadata};
use cambium_wire::Message;

use crate::definition::{Approval, Definition};
use crate::error::{LifecycleError, Result};
use crate::NAMESPACE;

/// The datatype Fabric records in a definition's metadata.
pub const DEFINITION_DATATYPE: &str = "ChaincodeDefinition";
/// Prefix of the metadata keys of committed definitions.
pub const METADATA_PREFIX: &str = "namespaces/metadata/";
/// Prefix of the field keys of committed definitions.
pub const FIELDS_PREFIX: &str = "namespaces/fields/";
/// Prefix of Cambium's per-org approval keys.
pub const APPROVALS_PREFIX: &str = "approvals/";

/// The definition fields Cambium writes, in Fabric's (sorted) order.
pub const DEFINITION_FIELDS: [&str; 4] = [
    "Collections",
    "EndorsementInfo",
    "Sequence",
    "ValidationInfo",
];

/// Cambium's definition field holding the rollout plan (`RolloutPlan` bytes), written and
/// listed in the metadata only for a definition that carries a plan.
pub const ROLLOUT_FIELD_NAME: &str = "Rollout";

/// Cambium's definition field holding the upgrade policy (its DSL text as bytes), written and
/// listed in the metadata only when the definition has one.
pub const UPGRADE_POLICY_FIELD_NAME: &str = "UpgradePolicy";

/// `namespaces/metadata/<name>`.
pub fn metadata_key(name: &str) -> String {
    format!("{METADATA_PREFIX}{name}")
}

/// `namespaces/fields/<name>/<field>`.
pub fn field_key(name: &str, field: &str) -> String {
    format!("{FIELDS_PREFIX}{name}/{field}")
}

/// `approvals/<msp_id>/<name>#<sequence>`: where `msp_id`'s approval is stored.
pub fn approval_key(msp_id: &str, name: &str, sequence: i64) -> String {
    format!("{APPROVALS_PREFIX}{msp_id}/{name}#{sequence}")
}

/// The org whose approval `key` holds, if `key` is an approval key.
pub fn approval_org(key: &str) -> Option<&str> {
    let (org, _) = key.strip_prefix(APPROVALS_PREFIX)?.split_once('/')?;
    (!org.is_empty()).then_some(org)
}

/// Reads from the `_lifecycle` namespace.
pub trait StateGet {
    /// The value of `key`, or `None`.
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>>;
}

/// A simulation over the `_lifecycle` namespace: reads (recorded, so MVCC protects them),
/// writes, and range scans.
pub trait Simulation: StateGet {
    /// Writes `value` under `key`.
    fn put(&mut self, key: &str, value: Vec<u8>);

    /// The committed keys in `[start, end)` in order, with their values.
    fn range(&mut self, start: &str, end: &str) -> Result<Vec<(String, Vec<u8>)>>;
}

fn storage(what: String) -> impl FnOnce(cambium_ledger::LedgerError) -> LifecycleError {
    move |e| LifecycleError::Storage(format!("reading {what} from the ledger failed: {e}"))
}

/// Untracked reads of committed `_lifecycle` state (for registries and the validator).
#[derive(Clone, Copy)]
pub struct CommittedState<'a>(pub &'a dyn StateReader);

impl StateGet for CommittedState<'_> {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self
            .0
            .get_state(NAMESPACE, key)
            .map_err(storage(format!("_lifecycle key '{key}'")))?
            .map(|v| v.value))
    }
}

/// A [`Simulation`] over a ledger snapshot that records what it reads (with the versions
/// seen) and writes, for a transaction's read/write set. Like Fabric's simulator, reads see
/// committed state only, not the simulation's own writes.
pub struct LedgerSimulation<'a> {
    reader: &'a dyn StateReader,
    reads: BTreeMap<String, Option<Version>>,
    writes: BTreeMap<String, Vec<u8>>,
    ranges: Vec<RangeQueryInfo>,
}

impl std::fmt::Debug for LedgerSimulation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LedgerSimulation")
            .field("reads", &self.reads.len())
            .field("writes", &self.writes.len())
            .finish_non_exhaustive()
    }
}

impl<'a> LedgerSimulation<'a> {
    /// A simulation reading `reader`.
    pub fn new(reader: &'a dyn StateReader) -> LedgerSimulation<'a> {
        LedgerSimulation {
            reader,
            reads: BTreeMap::new(),
            writes: BTreeMap::new(),
            ranges: Vec::new(),
        }
    }

    /// The `_lifecycle` read/write set of the simulation, sorted by key.
    pub fn into_ns_rwset(self) -> NsRwSet {
        NsRwSet {
            namespace: NAMESPACE.to_owned(),
            reads: self
                .reads
                .into_iter()
                .map(|(key, version)| KvRead { key, version })
                .collect(),
            writes: self
                .writes
                .into_iter()
                .map(|(key, value)| KvWrite {
                    key,
                    is_delete: false,
                    value,
                })
                .collect(),
            range_queries: self.ranges,
            ..NsRwSet::default()
        }
    }

    /// Whether the simulation read or wrote anything.
    pub fn is_empty(&self) -> bool {
        self.reads.is_empty() && self.writes.is_empty() && self.ranges.is_empty()
    }
}

impl StateGet for LedgerSimulation<'_> {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
        let value = self
            .reader
            .get_state(NAMESPACE, key)
            .map_err(storage(format!("_lifecycle key '{key}'")))?;
        self.reads
            .entry(key.to_owned())
            .or_insert(value.as_ref().map(|v| v.version));
        Ok(value.map(|v| v.value))
    }
}

impl Simulation for LedgerSimulation<'_> {
    fn put(&mut self, key: &str, value: Vec<u8>) {
        self.writes.insert(key.to_owned(), value);
    }

    fn range(&mut self, start: &str, end: &str) -> Result<Vec<(String, Vec<u8>)>> {
        let page = self
            .reader
            .get_state_range(NAMESPACE, start, end, 0, None)
            .map_err(storage(format!(
                "_lifecycle keys from '{start}' to '{end}'"
            )))?;
        self.ranges.push(RangeQueryInfo {
            start_key: start.to_owned(),
            end_key: end.to_owned(),
            itr_exhausted: true,
            reads: Some(RangeQueryReads::Raw(
                page.entries
                    .iter()
                    .map(|e| KvRead {
                        key: e.key.clone(),
                        version: Some(e.value.version),
                    })
                    .collect(),
            )),
        });
        Ok(page
            .entries
            .into_iter()
            .map(|e| (e.key, e.value.value))
            .collect())
    }
}

fn state_data(value: state_data::Type) -> Vec<u8> {
    StateData {
        r#type: Some(value),
    }
    .encode_to_vec()
}

fn corrupt(name: &str, field: &str, why: impl std::fmt::Display) -> LifecycleError {
    LifecycleError::Storage(format!(
        "the committed definition of '{name}' has an unreadable {field} field ({why}); the peer's ledger may be damaged"
    ))
}

fn read_field(state: &mut dyn StateGet, name: &str, field: &str) -> Result<state_data::Type> {
    let bytes = state
        .get(&field_key(name, field))?
        .ok_or_else(|| corrupt(name, field, "missing"))?;
    StateData::decode(bytes.as_slice())
        .map_err(|e| corrupt(name, field, e))?
        .r#type
        .ok_or_else(|| corrupt(name, field, "empty"))
}

fn read_bytes_field(state: &mut dyn StateGet, name: &str, field: &str) -> Result<Vec<u8>> {
    match read_field(state, name, field)? {
        state_data::Type::Bytes(b) => Ok(b),
        _ => Err(corrupt(name, field, "not bytes")),
    }
}

/// The sequence committed for `name` (0 if none), reading only the `Sequence` field, as
/// Fabric does before approving.
pub fn committed_sequence(state: &mut dyn StateGet, name: &str) -> Result<i64> {
    if state.get(&field_key(name, "Sequence"))?.is_none() {
        return Ok(0);
    }
    match read_field(state, name, "Sequence")? {
        state_data::Type::Int64(n) => Ok(n),
        _ => Err(corrupt(name, "Sequence", "not an integer")),
    }
}

/// The definition committed for `name`, if any.
pub fn committed_definition(state: &mut dyn StateGet, name: &str) -> Result<Option<Definition>> {
    let Some(metadata) = state.get(&metadata_key(name))? else {
        return Ok(None);
    };
    let metadata =
        StateMetadata::decode(metadata.as_slice()).map_err(|e| corrupt(name, "metadata", e))?;
    if metadata.datatype != DEFINITION_DATATYPE {
        return Err(corrupt(
            name,
            "metadata",
            format!("datatype '{}'", metadata.datatype),
        ));
    }
    let sequence = committed_sequence(state, name)?;
    let endorsement = ChaincodeEndorsementInfo::decode(
        read_bytes_field(state, name, "EndorsementInfo")?.as_slice(),
    )
    .map_err(|e| corrupt(name, "EndorsementInfo", e))?;
    let validation = ChaincodeValidationInfo::decode(
        read_bytes_field(state, name, "ValidationInfo")?.as_slice(),
    )
    .map_err(|e| corrupt(name, "ValidationInfo", e))?;
    let rollout = if metadata.fields.iter().any(|f| f == ROLLOUT_FIELD_NAME) {
        let bytes = read_bytes_field(state, name, ROLLOUT_FIELD_NAME)?;
        Some(
            crate::rollout::RolloutPlan::decode(bytes.as_slice())
                .map_err(|e| corrupt(name, ROLLOUT_FIELD_NAME, e))?,
        )
    } else {
        None
    };
    let upgrade_policy = if metadata
        .fields
        .iter()
        .any(|f| f == UPGRADE_POLICY_FIELD_NAME)
    {
        let bytes = read_bytes_field(state, name, UPGRADE_POLICY_FIELD_NAME)?;
        Some(String::from_utf8(bytes).map_err(|e| corrupt(name, UPGRADE_POLICY_FIELD_NAME, e))?)
    } else {
        None
    };
    Ok(Some(Definition {
        sequence,
        version: endorsement.version,
        endorsement_plugin: endorsement.endorsement_plugin,
        validation_plugin: validation.validation_plugin,
        validation_parameter: validation.validation_parameter,
        init_required: endorsement.init_required,
        rollout,
        upgrade_policy,
    }))
}

/// Writes `definition` as the committed definition of `name`.
pub fn write_definition(sim: &mut dyn Simulation, name: &str, definition: &Definition) {
    let mut fields: Vec<String> = DEFINITION_FIELDS.iter().map(|f| (*f).to_owned()).collect();
    if let Some(plan) = &definition.rollout {
        fields.push(ROLLOUT_FIELD_NAME.to_owned());
        fields.sort();
        sim.put(
            &field_key(name, ROLLOUT_FIELD_NAME),
            state_data(state_data::Type::Bytes(plan.encode_to_vec())),
        );
    }
    if let Some(policy) = &definition.upgrade_policy {
        fields.push(UPGRADE_POLICY_FIELD_NAME.to_owned());
        fields.sort();
        sim.put(
            &field_key(name, UPGRADE_POLICY_FIELD_NAME),
            state_data(state_data::Type::Bytes(policy.as_bytes().to_vec())),
        );
    }
    let metadata = StateMetadata {
        datatype: DEFINITION_DATATYPE.to_owned(),
        fields,
    };
    sim.put(&metadata_key(name), metadata.encode_to_vec());
    sim.put(
        &field_key(name, "Sequence"),
        state_data(state_data::Type::Int64(definition.sequence)),
    );
    sim.put(
        &field_key(name, "EndorsementInfo"),
        state_data(state_data::Type::Bytes(definition.endorsement_info())),
    );
    sim.put(
        &field_key(name, "ValidationInfo"),
        state_data(state_data::Type::Bytes(definition.validation_info())),
    );
    sim.put(
        &field_key(name, "Collections"),
        state_data(state_data::Type::Bytes(Vec::new())),
    );
}

/// The names of every committed definition, in order, read with one range scan of the
/// metadata keys.
pub fn committed_names(sim: &mut dyn Simulation) -> Result<Vec<String>> {
    // '/' + 1 = '0': the end of the `namespaces/metadata/` prefix.
    let end = "namespaces/metadata0";
    Ok(sim
        .range(METADATA_PREFIX, end)?
        .into_iter()
        .filter_map(|(k, _)| k.strip_prefix(METADATA_PREFIX).map(str::to_owned))
        .collect())
}

/// Every committed definition, by name.
pub fn committed_definitions(sim: &mut dyn Simulation) -> Result<Vec<(String, Definition)>> {
    let mut out = Vec::new();
    for name in committed_names(sim)? {
        if let Some(d) = committed_definition(sim, &name)? {
            out.push((name, d));
        }
    }
    Ok(out)
}

/// `msp_id`'s approval of `name` at `sequence`, if it approved.
pub fn org_approval(
    state: &mut dyn StateGet,
    msp_id: &str,
    name: &str,
    sequence: i64,
) -> Result<Option<Approval>> {
    state
        .get(&approval_key(msp_id, name, sequence))?
        .map(|b| Approval::decode(&b))
        .transpose()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A map-backed simulation for unit tests of the rules; `commit` applies the writes.
    #[derive(Default)]
    pub(crate) struct MapSim {
        pub(crate) committed: BTreeMap<String, Vec<u8>>,
        pub(crate) reads: Vec<String>,
        pub(crate) writes: BTreeMap<String, Vec<u8>>,
    }

    impl MapSim {
        pub(crate) fn commit(&mut self) {
            let writes = std::mem::take(&mut self.writes);
            self.committed.extend(writes);
            self.reads.clear();
        }
    }

    impl StateGet for MapSim {
        fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>> {
            self.reads.push(key.to_owned());
            Ok(self.committed.get(key).cloned())
        }
    }

    impl Simulation for MapSim {
        fn put(&mut self, key: &str, value: Vec<u8>) {
            self.writes.insert(key.to_owned(), value);
        }

        fn range(&mut self, start: &str, end: &str) -> Result<Vec<(String, Vec<u8>)>> {
            Ok(self
                .committed
                .range(start.to_owned()..end.to_owned())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect())
        }
    }

    #[test]
    fn definitions_round_trip_through_fabric_keys() {
        let mut sim = MapSim::default();
        let mut d = Definition::new(3, "3.1");
        d.init_required = true;
        write_definition(&mut sim, "basic", &d);
        assert!(sim.writes.contains_key("namespaces/metadata/basic"));
        assert!(sim.writes.contains_key("namespaces/fields/basic/Sequence"));
        sim.commit();
        assert_eq!(committed_definition(&mut sim, "basic").unwrap(), Some(d));
        assert_eq!(committed_definition(&mut sim, "other").unwrap(), None);
        assert_eq!(committed_sequence(&mut sim, "basic").unwrap(), 3);
        assert_eq!(committed_sequence(&mut sim, "other").unwrap(), 0);
        assert_eq!(committed_names(&mut sim).unwrap(), ["basic"]);

        // A plan is a further field, listed in the metadata; the next definition without
        // one is read without it.
        let canary = Definition::new(4, "4.0").with_rollout(Some(crate::rollout::RolloutPlan {
            weight_percent: 25,
            ..Default::default()
        }));
        write_definition(&mut sim, "basic", &canary);
        assert!(sim.writes.contains_key("namespaces/fields/basic/Rollout"));
        sim.commit();
        assert_eq!(
            committed_definition(&mut sim, "basic").unwrap(),
            Some(canary)
        );
        let plain = Definition::new(5, "5.0");
        write_definition(&mut sim, "basic", &plain);
        sim.commit();
        assert_eq!(
            committed_definition(&mut sim, "basic").unwrap(),
            Some(plain)
        );
    }

    #[test]
    fn approval_keys_name_their_org() {
        let key = approval_key("Org1MSP", "basic", 2);
        assert_eq!(key, "approvals/Org1MSP/basic#2");
        assert_eq!(approval_org(&key), Some("Org1MSP"));
        assert_eq!(approval_org("namespaces/metadata/basic"), None);
        assert_eq!(approval_org("approvals/"), None);
        assert_eq!(approval_org("approvals//x"), None);
    }
}
