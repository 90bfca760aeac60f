//! Compiles Cambium's Fabric-compatible `.proto` files with `protox` (no `protoc` needed) and
//! generates prost messages plus tonic clients and servers. Also writes the serialized
//! `FileDescriptorSet` that the descriptor compatibility test compares against Fabric's.

use std::path::PathBuf;

use prost::Message;

const PROTOS: &[&str] = &[
    "common/common.proto",
    "common/configtx.proto",
    "common/configuration.proto",
    "common/ledger.proto",
    "common/policies.proto",
    "msp/identities.proto",
    "msp/msp_config.proto",
    "msp/msp_principal.proto",
    "peer/chaincode.proto",
    "peer/chaincode_event.proto",
    "peer/collection.proto",
    "peer/configuration.proto",
    "peer/events.proto",
    "peer/peer.proto",
    "peer/policy.proto",
    "peer/proposal.proto",
    "peer/query.proto",
    "peer/proposal_response.proto",
    "peer/transaction.proto",
    "peer/lifecycle/chaincode_definition.proto",
    "peer/lifecycle/db.proto",
    "peer/lifecycle/lifecycle.proto",
    "ledger/rwset/rwset.proto",
    "ledger/rwset/kvrwset/kv_rwset.proto",
    "orderer/ab.proto",
    "orderer/configuration.proto",
    "orderer/etcdraft/configuration.proto",
    "gateway/gateway.proto",
    "google/rpc/status.proto",
];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={}", proto_dir.display());
    for file in PROTOS {
        println!("cargo:rerun-if-changed={}", proto_dir.join(file).display());
    }

    let fds = protox::compile(PROTOS, [&proto_dir])?;
    std::fs::write(out_dir.join("cambium_descriptor.bin"), fds.encode_to_vec())?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Maps become BTreeMaps so encoding order never depends on hashing.
        .btree_map(".")
        .compile_fds(fds)?;
    Ok(())
}
