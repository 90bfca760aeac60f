//! Unit tests of the lifecycle rules over a map-backed simulation.

use std::sync::Mutex;

use super::*;
use crate::package::InstalledPackage;
use crate::state::tests::MapSim;

/// Packages held in memory: the label is the package bytes as UTF-8.
#[derive(Default)]
struct MemStore(Mutex<BTreeMap<String, Vec<u8>>>);

impl PackageStore for MemStore {
    fn install(&self, package: &[u8]) -> Result<InstalledPackage> {
        let label = String::from_utf8(package.to_vec())
            .map_err(|_| LifecycleError::BadArguments("not a test package".into()))?;
        let id = format!("{label}:{}", package.len());
        let mut map = self.0.lock().unwrap();
        if map.contains_key(&id) {
            return Err(LifecycleError::Refused(format!(
                "chaincode already successfully installed (package ID '{id}')"
            )));
        }
        map.insert(id.clone(), package.to_vec());
        Ok(InstalledPackage {
            package_id: id,
            label,
        })
    }
    fn installed(&self) -> Result<Vec<InstalledPackage>> {
        Ok(self
            .0
            .lock()
            .unwrap()
            .iter()
            .map(|(id, b)| InstalledPackage {
                package_id: id.clone(),
                label: String::from_utf8(b.clone()).unwrap(),
            })
            .collect())
    }
    fn get(&self, package_id: &str) -> Result<Option<InstalledPackage>> {
        Ok(self
            .installed()?
            .into_iter()
            .find(|p| p.package_id == package_id))
    }
    fn package_bytes(&self, package_id: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.0.lock().unwrap().get(package_id).cloned())
    }
}

fn orgs() -> Vec<String> {
    vec!["Org1MSP".into(), "Org2MSP".into()]
}

fn ctx<'a>(orgs: &'a [String], peer: &'a str, creator: &'a str) -> ChannelContext<'a> {
    ChannelContext {
        channel_id: "mychannel",
        orgs,
        peer_msp_id: peer,
        creator_msp_id: creator,
        policies: &CHANNEL_POLICIES,
    }
}

/// Org1MSP and Org2MSP, each with `Endorsement` = `OR('<org>.peer')`, and
/// `/Channel/Application/Endorsement` = `MAJORITY Endorsement` (both orgs of two).
static CHANNEL_POLICIES: std::sync::LazyLock<PolicyGroup> = std::sync::LazyLock::new(|| {
    use cambium_msp::policy::{ImplicitMetaPolicy, ImplicitMetaRule, Policy};
    let mut app = PolicyGroup::new().with_policy(
        "Endorsement",
        Policy::ImplicitMeta(ImplicitMetaPolicy {
            rule: ImplicitMetaRule::Majority,
            sub_policy: "Endorsement".into(),
        }),
    );
    for org in orgs() {
        let env = cambium_msp::policy::parse(&format!("OR('{org}.peer')")).unwrap();
        app = app.with_group(
            &org,
            PolicyGroup::new().with_policy("Endorsement", Policy::Signature(env)),
        );
    }
    PolicyGroup::new().with_group("Application", app)
});

fn no_refs(_: &str) -> Result<References> {
    Ok(References::new())
}

fn approve_args(seq: i64, version: &str, package: Option<&str>) -> Vec<u8> {
    pb::ApproveChaincodeDefinitionForMyOrgArgs {
        sequence: seq,
        name: "basic".into(),
        version: version.into(),
        source: Some(
            match package {
                Some(id) => PackageSource::Local(id.into()),
                None => PackageSource::Unavailable,
            }
            .to_wire(),
        ),
        ..Default::default()
    }
    .encode_to_vec()
}

fn commit_args(seq: i64, version: &str) -> Vec<u8> {
    pb::CommitChaincodeDefinitionArgs {
        sequence: seq,
        name: "basic".into(),
        version: version.into(),
        ..Default::default()
    }
    .encode_to_vec()
}

fn call(
    sim: &mut MapSim,
    store: &MemStore,
    org: &str,
    function: &str,
    input: &[u8],
) -> Result<Vec<u8>> {
    let orgs = orgs();
    invoke_channel(&ctx(&orgs, org, org), sim, store, &no_refs, function, input)
}

#[test]
fn install_approve_commit_and_query() {
    let store = MemStore::default();
    let mut sim = MapSim::default();
    let installed = invoke_local(
        &store,
        &no_refs,
        INSTALL,
        &pb::InstallChaincodeArgs {
            chaincode_install_package: b"basic_1".to_vec(),
        }
        .encode_to_vec(),
    )
    .unwrap();
    let installed = pb::InstallChaincodeResult::decode(installed.as_slice()).unwrap();
    assert_eq!(installed.label, "basic_1");
    let again = invoke_local(
        &store,
        &no_refs,
        INSTALL,
        &pb::InstallChaincodeArgs {
            chaincode_install_package: b"basic_1".to_vec(),
        }
        .encode_to_vec(),
    )
    .unwrap_err();
    assert!(again.to_string().contains("already successfully installed"));

    let id = installed.package_id.as_str();
    call(
        &mut sim,
        &store,
        "Org1MSP",
        APPROVE,
        &approve_args(1, "1.0", Some(id)),
    )
    .unwrap();
    assert_eq!(
        sim.writes.keys().collect::<Vec<_>>(),
        ["approvals/Org1MSP/basic#1"]
    );
    sim.commit();

    // Org2 has not approved: its peer refuses to endorse the commit.
    let err = call(&mut sim, &store, "Org2MSP", COMMIT, &commit_args(1, "1.0")).unwrap_err();
    assert!(
        err.to_string()
            .contains("chaincode definition not agreed to by this org (Org2MSP)"),
        "{err}"
    );
    let readiness = call(
        &mut sim,
        &store,
        "Org1MSP",
        CHECK_READINESS,
        &commit_args(1, "1.0"),
    )
    .unwrap();
    let readiness = pb::CheckCommitReadinessResult::decode(readiness.as_slice()).unwrap();
    assert_eq!(readiness.approvals.get("Org1MSP"), Some(&true));
    assert_eq!(readiness.approvals.get("Org2MSP"), Some(&false));

    // Org2 approves without installing: both orgs approved, but only Org1 is ready, and
    // MAJORITY Endorsement of two orgs needs both.
    call(
        &mut sim,
        &store,
        "Org2MSP",
        APPROVE,
        &approve_args(1, "1.0", None),
    )
    .unwrap();
    sim.commit();
    let readiness = call(
        &mut sim,
        &store,
        "Org1MSP",
        CHECK_READINESS,
        &commit_args(1, "1.0"),
    )
    .unwrap();
    let fabric = pb::CheckCommitReadinessResult::decode(readiness.as_slice()).unwrap();
    assert!(fabric.approvals.values().all(|a| *a));
    let report = crate::readiness::report_from_result(&readiness)
        .unwrap()
        .unwrap();
    assert_eq!(
        report.orgs["Org1MSP"],
        OrgReadiness {
            approved: true,
            package_id: id.to_owned(),
            ready: true
        }
    );
    assert_eq!(
        report.orgs["Org2MSP"],
        OrgReadiness {
            approved: true,
            package_id: String::new(),
            ready: false
        }
    );
    let err = call(&mut sim, &store, "Org1MSP", COMMIT, &commit_args(1, "1.0")).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("refusing to commit sequence 1 of 'basic': the orgs ready to endorse it (Org1MSP) cannot satisfy its endorsement policy (channel policy /Channel/Application/Endorsement); not ready: Org2MSP (approved without a package installed); each of those orgs must install the package on its peers and approve sequence 1 with its package ID")
    );
    assert!(sim.writes.is_empty());
    sim.reads.clear();

    // Org2 approves again, with the package installed on its peer: the commit goes through.
    call(
        &mut sim,
        &store,
        "Org2MSP",
        APPROVE,
        &approve_args(1, "1.0", Some(id)),
    )
    .unwrap();
    sim.commit();
    call(&mut sim, &store, "Org1MSP", COMMIT, &commit_args(1, "1.0")).unwrap();
    // The commit read both orgs' approvals.
    assert!(sim.reads.contains(&"approvals/Org1MSP/basic#1".to_owned()));
    assert!(sim.reads.contains(&"approvals/Org2MSP/basic#1".to_owned()));
    sim.commit();

    let q = call(
        &mut sim,
        &store,
        "Org1MSP",
        QUERY_DEFINITION,
        &pb::QueryChaincodeDefinitionArgs {
            name: "basic".into(),
        }
        .encode_to_vec(),
    )
    .unwrap();
    let q_bytes = q;
    let q = pb::QueryChaincodeDefinitionResult::decode(q_bytes.as_slice()).unwrap();
    assert_eq!((q.sequence, q.version.as_str()), (1, "1.0"));
    assert_eq!(q.endorsement_plugin, "escc");
    assert!(q.approvals.values().all(|a| *a));
    let report = crate::readiness::report_from_result(&q_bytes)
        .unwrap()
        .unwrap();
    assert_eq!(crate::readiness::ready_orgs(&report).len(), 2);

    let all = call(
        &mut sim,
        &store,
        "Org1MSP",
        QUERY_DEFINITIONS,
        &pb::QueryChaincodeDefinitionsArgs {}.encode_to_vec(),
    )
    .unwrap();
    let all = pb::QueryChaincodeDefinitionsResult::decode(all.as_slice()).unwrap();
    assert_eq!(all.chaincode_definitions.len(), 1);
    assert_eq!(all.chaincode_definitions[0].name, "basic");

    let approved = call(
        &mut sim,
        &store,
        "Org1MSP",
        QUERY_APPROVED,
        &pb::QueryApprovedChaincodeDefinitionArgs {
            name: "basic".into(),
            sequence: 0,
        }
        .encode_to_vec(),
    )
    .unwrap();
    let approved = Approval::decode(&approved).unwrap();
    assert_eq!(approved.source, PackageSource::Local(id.to_owned()));
}

#[test]
fn sequence_rules() {
    let store = MemStore::default();
    let mut sim = MapSim::default();
    let err = call(
        &mut sim,
        &store,
        "Org1MSP",
        APPROVE,
        &approve_args(2, "1.0", None),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "requested sequence is 2, but new definition must be sequence 1; 'basic' has no committed definition yet; approve sequence 1"
    );
    assert_eq!(err.status(), 500);
    let id = store.install(b"basic_1").unwrap().package_id;
    for org in ["Org1MSP", "Org2MSP"] {
        call(
            &mut sim,
            &store,
            org,
            APPROVE,
            &approve_args(1, "1.0", Some(&id)),
        )
        .unwrap();
        sim.commit();
    }
    let err = call(&mut sim, &store, "Org1MSP", COMMIT, &commit_args(2, "1.0")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("requested sequence is 2, but new definition must be sequence 1"),
        "{err}"
    );
    call(&mut sim, &store, "Org1MSP", COMMIT, &commit_args(1, "1.0")).unwrap();
    sim.commit();
    let err = call(&mut sim, &store, "Org1MSP", COMMIT, &commit_args(1, "1.0")).unwrap_err();
    assert!(err.to_string().contains("already committed"), "{err}");

    // Approving the committed sequence: only with the committed parameters.
    let err = call(
        &mut sim,
        &store,
        "Org1MSP",
        APPROVE,
        &approve_args(1, "1.1", None),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("attempted to redefine the current committed sequence (1)"),
        "{err}"
    );
    call(
        &mut sim,
        &store,
        "Org1MSP",
        APPROVE,
        &approve_args(1, "1.0", None),
    )
    .unwrap();
    let err = call(
        &mut sim,
        &store,
        "Org1MSP",
        APPROVE,
        &approve_args(3, "1.0", None),
    )
    .unwrap_err();
    assert!(err.to_string().contains("approve sequence 2"), "{err}");
}

#[test]
fn refusals_and_statuses() {
    let store = MemStore::default();
    let mut sim = MapSim::default();
    let orgs = orgs();
    let err = invoke_channel(
        &ctx(&orgs, "Org1MSP", "Org2MSP"),
        &mut sim,
        &store,
        &no_refs,
        APPROVE,
        &approve_args(1, "1.0", None),
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .starts_with("cannot approve for another org"),
        "{err}"
    );

    let err = call(
        &mut sim,
        &store,
        "Org1MSP",
        APPROVE,
        &approve_args(1, "1.0", Some("nope:00")),
    )
    .unwrap_err();
    assert_eq!(err.status(), 404);

    let err = call(
        &mut sim,
        &store,
        "Org1MSP",
        QUERY_DEFINITION,
        &pb::QueryChaincodeDefinitionArgs {
            name: "basic".into(),
        }
        .encode_to_vec(),
    )
    .unwrap_err();
    assert_eq!(err.status(), 404);
    let response = respond(QUERY_DEFINITION, Err(err));
    assert_eq!(response.status, 404);
    assert_eq!(
        response.message,
        "failed to invoke backing implementation of 'QueryChaincodeDefinition': namespace basic is not defined; commit a chaincode definition for 'basic' first"
    );

    assert!(call(&mut sim, &store, "Org1MSP", "Nope", &[]).is_err());
    assert!(call(&mut sim, &store, "Org1MSP", APPROVE, b"\xff\xff").is_err());
    assert!(split_args(&[b"x".to_vec()]).is_err());
    assert_eq!(
        split_args(&[b"f".to_vec(), b"a".to_vec()]).unwrap(),
        ("f", &b"a"[..])
    );
    assert_eq!(acl(APPROVE), Some(Acl::LocalAdmins));
    assert_eq!(acl(COMMIT), Some(Acl::ChannelWriters));
    assert_eq!(acl("Nope"), None);
}

#[test]
fn a_commit_records_the_definition_it_replaces() {
    let store = MemStore::default();
    let mut sim = MapSim::default();
    let id = store.install(b"basic_1").unwrap().package_id;
    for (seq, version) in [(1, "1.0"), (2, "2.0")] {
        for org in ["Org1MSP", "Org2MSP"] {
            call(
                &mut sim,
                &store,
                org,
                APPROVE,
                &approve_args(seq, version, Some(&id)),
            )
            .unwrap();
            sim.commit();
        }
        call(
            &mut sim,
            &store,
            "Org1MSP",
            COMMIT,
            &commit_args(seq, version),
        )
        .unwrap();
        if seq == 1 {
            assert!(!sim.writes.contains_key("cambium/previous/basic"));
        }
        sim.commit();
    }
    let previous = crate::upgrade::previous_definition(&mut sim, "basic")
        .unwrap()
        .unwrap();
    assert_eq!(previous, Definition::new(1, "1.0"));
    let current = committed_definition(&mut sim, "basic").unwrap().unwrap();
    assert_eq!(current.version, "2.0");
}

/// Both orgs approve `args` (approve bytes) and Org1's peer commits `commit`.
fn approve_and_commit(sim: &mut MapSim, store: &MemStore, approve: &[u8], commit: &[u8]) {
    for org in ["Org1MSP", "Org2MSP"] {
        call(sim, store, org, APPROVE, approve).unwrap();
        sim.commit();
    }
    call(sim, store, "Org1MSP", COMMIT, commit).unwrap();
    sim.commit();
}

fn with_plan(mut args: Vec<u8>, weight: u32) -> Vec<u8> {
    crate::rollout::append_plan(
        &crate::rollout::RolloutPlan {
            weight_percent: weight,
            ..Default::default()
        },
        &mut args,
    );
    args
}

#[test]
fn a_rollout_blocks_the_next_commit_until_it_ends_and_an_abort_keeps_the_serving_definition() {
    let store = MemStore::default();
    let mut sim = MapSim::default();
    let id = store.install(b"basic_1").unwrap().package_id;
    approve_and_commit(
        &mut sim,
        &store,
        &approve_args(1, "1.0", Some(&id)),
        &commit_args(1, "1.0"),
    );
    approve_and_commit(
        &mut sim,
        &store,
        &with_plan(approve_args(2, "2.0", Some(&id)), 10),
        &with_plan(commit_args(2, "2.0"), 10),
    );
    let query = RolloutStepArgs {
        name: "basic".into(),
        weight_percent: 0,
    }
    .encode_to_vec();
    let status = RolloutStatus::decode(
        call(&mut sim, &store, "Org1MSP", QUERY_ROLLOUT, &query)
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    assert_eq!((status.sequence, status.previous_sequence), (2, 1));
    assert_eq!(status.plan.as_ref().unwrap().weight_percent, 10);
    assert!(sim.committed.contains_key("cambium/rollout/basic"));
    assert!(sim
        .committed
        .contains_key("namespaces/fields/basic/Rollout"));

    // Sequence 3 cannot be committed while sequence 2 is rolling out.
    for org in ["Org1MSP", "Org2MSP"] {
        call(
            &mut sim,
            &store,
            org,
            APPROVE,
            &approve_args(3, "3.0", Some(&id)),
        )
        .unwrap();
        sim.commit();
    }
    let err = call(&mut sim, &store, "Org1MSP", COMMIT, &commit_args(3, "3.0")).unwrap_err();
    assert!(
        err.to_string().contains("is in progress") && err.to_string().contains("AbortRollout"),
        "{err}"
    );
    assert!(sim.writes.is_empty());

    // Aborted, sequence 2 never served everyone: sequence 3 replaces 1.0.
    call(&mut sim, &store, "Org2MSP", ABORT, &query).unwrap();
    sim.commit();
    call(&mut sim, &store, "Org1MSP", COMMIT, &commit_args(3, "3.0")).unwrap();
    sim.commit();
    let previous = crate::upgrade::previous_definition(&mut sim, "basic")
        .unwrap()
        .unwrap();
    assert_eq!(previous.version, "1.0");
    // Sequence 3 has no plan: the stored rollout of sequence 2 routes nothing and the query
    // says so.
    let status = RolloutStatus::decode(
        call(&mut sim, &store, "Org1MSP", QUERY_ROLLOUT, &query)
            .unwrap()
            .as_slice(),
    )
    .unwrap();
    assert_eq!(
        (
            status.sequence,
            status.previous_version.as_str(),
            status.plan
        ),
        (3, "1.0", None)
    );
    assert_eq!(acl(ABORT), Some(Acl::ChannelAdmins));
    assert_eq!(acl(QUERY_ROLLOUT), Some(Acl::ChannelWriters));
}
