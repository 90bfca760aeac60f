//! Criterion bench: `Endorser::process_proposal` of a `kv` put, from signed proposal bytes to a
//! signed proposal response (pre-checks, MSP validation, ACL, snapshot, VM call, PRP, signing),
//! with the contract from a `StaticRegistry` and from a `LifecycleRegistry` (committed
//! definition and approval read from the snapshot per proposal); and that lookup alone, also
//! with a proposal origin (rollout routing, no rollout in force); and the static kv put again
//! with the per-version endorsement metrics observed into a `cambium-ops` registry.
//!
//! Run with `cargo bench -p cambium-endorser --features bench -- --quick`.

use std::path::Path;
use std::sync::Arc;

use cambium_channel::yaml::{self, LoadOptions};
use cambium_channel::{ChannelConfig, DEFAULT_CHANNEL_YAML};
use cambium_cryptogen::{generate, CryptoConfig, GenerateOptions, GeneratedNetwork, Role};
use cambium_endorser::{
    ContractRegistry, DirPackageStore, EndorsementObserver, EndorsementOutcome,
    EndorsementRecorder, Endorser, EndorserChannel, LedgerSource, LifecycleRegistry,
    ProposalOrigin, StaticRegistry,
};
use cambium_ledger::{
    Block, BlockCommit, BlockWriter, KeyWrite, Ledger, SnapshotSource, TxOutcome,
};
use cambium_lifecycle::state::write_definition;
use cambium_lifecycle::{
    approval_key, Approval, Definition, LedgerSimulation, PackageSource, PackageStore, NAMESPACE,
};
use cambium_msp::{load_signing_identity, SigningIdentity};
use cambium_primitives::Timestamp;
use cambium_vm::{Vm, VmConfig};
use cambium_wire::encode_serialized_identity;
use cambium_wire::tx::{build_proposal, signed_proposal_bytes, ProposalParts};
use criterion::{criterion_group, criterion_main, Criterion};

fn identity(net: &GeneratedNetwork, msp_id: &str, role: Role) -> SigningIdentity {
    let org = net.org(msp_id).expect("org generated");
    let id = org
        .nodes
        .iter()
        .chain(&org.users)
        .find(|i| i.role == role)
        .expect("identity of that role");
    load_signing_identity(&id.msp_dir, msp_id).expect("signing identity loads")
}

/// The peer's observer: a `cambium-ops` handle per contract version.
struct MetricsObserver(Arc<cambium_ops::Metrics>);

struct VersionMetrics(cambium_ops::ContractVersionMetrics);

impl EndorsementRecorder for VersionMetrics {
    fn record(&self, outcome: EndorsementOutcome, simulation: std::time::Duration) {
        let result = match outcome {
            EndorsementOutcome::Ok => cambium_ops::EndorsementResult::Ok,
            EndorsementOutcome::ContractError => cambium_ops::EndorsementResult::ContractError,
            EndorsementOutcome::Failed => cambium_ops::EndorsementResult::Failed,
        };
        self.0.record(result, simulation.as_secs_f64());
    }
}

impl EndorsementObserver for MetricsObserver {
    fn recorder(
        &self,
        channel: &str,
        contract: &str,
        version: &str,
    ) -> Arc<dyn EndorsementRecorder> {
        Arc::new(VersionMetrics(
            self.0.contract_version(channel, contract, version),
        ))
    }
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let net = generate(
        &CryptoConfig::default_network(),
        &dir.path().join("crypto"),
        GenerateOptions::default(),
    )
    .expect("crypto");
    let yaml_path = dir.path().join("channel.yaml");
    std::fs::write(&yaml_path, DEFAULT_CHANNEL_YAML).expect("channel YAML written");
    let spec = yaml::load(&yaml_path, &LoadOptions::default()).expect("channel YAML loads");
    let config = Arc::new(ChannelConfig::from_spec(&spec).expect("channel config"));

    // <target>/<profile>/deps/endorse-… → <target>
    let exe = std::env::current_exe().expect("bench binary path");
    let target = exe.ancestors().nth(3).expect("target dir");
    let kv_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/kv");
    let wasm = cambium_vm::toolchain::build(&kv_dir, &target.join("contract-wasm"))
        .expect("kv builds for wasm32");
    let vm = Arc::new(Vm::new(VmConfig::default()).expect("engine"));
    let wasm = std::fs::read(wasm).expect("module");
    let kv = Arc::new(vm.install(&wasm).expect("kv installs"));
    let ledger = Arc::new(Ledger::open(dir.path().join("ledger")).expect("ledger"));
    let static_endorser = || {
        let endorser = Endorser::new(
            Arc::clone(&vm),
            Arc::new(identity(&net, "Org1MSP", Role::Peer)),
        );
        endorser.add_channel(EndorserChannel {
            config: Arc::clone(&config),
            ledger: Arc::clone(&ledger) as Arc<dyn LedgerSource>,
            contracts: Arc::new(StaticRegistry::new().with("kv", "1.0", Arc::clone(&kv))),
        });
        endorser
    };
    let endorser = static_endorser();
    // The same endorser reporting to the peer's metrics, as `cambium peer start` wires it.
    let observed = static_endorser();
    let metrics = Arc::new(cambium_ops::Metrics::new());
    observed.set_observer(Arc::new(MetricsObserver(Arc::clone(&metrics))));

    let client = identity(&net, "Org1MSP", Role::Client);
    let unsigned = build_proposal(&ProposalParts {
        channel_id: config.channel_id().to_owned(),
        chaincode_name: "kv".into(),
        args: vec![b"put".to_vec(), b"key".to_vec(), b"value".to_vec()],
        transient: Default::default(),
        creator: encode_serialized_identity(&client.serialized()),
        nonce: vec![7; 24],
        timestamp: Timestamp {
            seconds: 1_700_000_000,
            nanos: 0,
        },
    });
    let signed = signed_proposal_bytes(
        &unsigned.proposal_bytes,
        &client.sign(&unsigned.proposal_bytes).expect("sign"),
    );
    assert!(endorser
        .process_proposal(&signed)
        .expect("processed")
        .is_endorsed());

    c.bench_function("process_proposal kv put", |b| {
        b.iter(|| endorser.process_proposal(&signed).expect("processed"))
    });
    c.bench_function("process_proposal kv put (observed)", |b| {
        b.iter(|| observed.process_proposal(&signed).expect("processed"))
    });
    // Once more outside the timing, so the check holds when a filter skipped the bench above.
    assert!(observed
        .process_proposal(&signed)
        .expect("processed")
        .is_endorsed());
    assert!(metrics.encode().contains(
        "cambium_contract_endorsements_total{channel=\"mychannel\",contract=\"kv\",version=\"1.0\",result=\"ok\"}"
    ));

    // The same call with the contract resolved through `_lifecycle`: kv installed, defined at
    // sequence 1 and approved by Org1 with its package.
    let store = Arc::new(
        DirPackageStore::open(dir.path().join("packages"), Arc::clone(&vm)).expect("store"),
    );
    let package = cambium_vm::package::write_package(&wasm, "kv_1").expect("package");
    let package_id = store.install(&package).expect("installs").package_id;
    let defined = Arc::new(Ledger::open(dir.path().join("defined")).expect("ledger"));
    let writes = {
        let snapshot = defined.snapshot().expect("snapshot");
        let mut sim = LedgerSimulation::new(&snapshot);
        let definition = Definition::new(1, "1.0");
        write_definition(&mut sim, "kv", &definition);
        let approval = Approval {
            definition,
            source: PackageSource::Local(package_id),
        };
        let mut writes: Vec<KeyWrite> = sim
            .into_ns_rwset()
            .writes
            .into_iter()
            .map(|w| KeyWrite::put(NAMESPACE, w.key, w.value))
            .collect();
        writes.push(KeyWrite::put(
            NAMESPACE,
            approval_key("Org1MSP", "kv", 1),
            approval.encode(),
        ));
        writes
    };
    defined
        .commit_block(&BlockCommit {
            block: Block::new(0, Vec::new(), vec![b"definition".to_vec()]),
            outcomes: vec![TxOutcome::valid(writes)],
        })
        .expect("definition commits");
    let registry = Arc::new(LifecycleRegistry::new("Org1MSP", Arc::clone(&store)));
    let lifecycle_endorser = Endorser::new(vm, Arc::new(identity(&net, "Org1MSP", Role::Peer)));
    lifecycle_endorser.add_channel(EndorserChannel {
        config: Arc::clone(&config),
        ledger: Arc::clone(&defined) as Arc<dyn LedgerSource>,
        contracts: Arc::clone(&registry) as Arc<dyn ContractRegistry>,
    });
    assert!(lifecycle_endorser
        .process_proposal(&signed)
        .expect("processed")
        .is_endorsed());
    c.bench_function("process_proposal kv put (LifecycleRegistry)", |b| {
        b.iter(|| {
            lifecycle_endorser
                .process_proposal(&signed)
                .expect("processed")
        })
    });
    let snapshot = defined.snapshot_view().expect("snapshot");
    c.bench_function("LifecycleRegistry::contract", |b| {
        b.iter(|| registry.contract("kv", snapshot.as_ref()).expect("defined"))
    });
    // What a proposal pays for rollout routing when no rollout is in force: one more point
    // read (`cambium/rollout/kv`).
    let origin = ProposalOrigin {
        tx_id: "00".repeat(32),
        msp_id: "Org1MSP".into(),
        identity: b"creator".to_vec(),
        ous: Vec::new(),
    };
    c.bench_function("LifecycleRegistry::routed_contract", |b| {
        b.iter(|| {
            registry
                .routed_contract("kv", snapshot.as_ref(), &origin)
                .expect("defined")
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
