//! Fabric protobuf messages and gRPC services, and their conversions to domain types.
//!
//! This is the only Cambium crate that knows protobuf. The messages are generated at build time
//! from the project's own `.proto` files (under `proto/`), whose packages, message names, field
//! numbers and enum values match Hyperledger Fabric's exactly, so bytes interoperate with
//! Fabric's clients and nodes.
//!
//! - One module per protobuf package: [`common`], [`msp`], [`peer`] (Fabric's `protos`),
//!   [`lifecycle`], [`rwset`], [`kvrwset`], [`orderer`], [`etcdraft`], [`gateway`] and
//!   [`google_rpc`].
//! - [`cambium_lifecycle`]: Cambium's own `_lifecycle` extension messages (package
//!   `cambium.lifecycle`, not in Fabric): rollout plans and steps, readiness, the grace window.
//! - gRPC clients and servers for `protos.Endorser`, `protos.Deliver`,
//!   `orderer.AtomicBroadcast` and `gateway.Gateway` live in the generated `*_client` and
//!   `*_server` submodules.
//! - [`FILE_DESCRIPTOR_SET`] holds the compiled descriptors of every message.

/// Fabric's `common` package: envelopes, headers, blocks, configuration, policies and MSP
/// principals (Fabric declares `MSPPrincipal`, `MSPRole` and `OrganizationUnit` here too).
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    unreachable_pub,
    rust_2018_idioms
)]
pub mod common {
    include!(concat!(env!("OUT_DIR"), "/common.rs"));
}

/// Fabric's `msp` package: serialized identities and MSP configuration.
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    unreachable_pub,
    rust_2018_idioms
)]
pub mod msp {
    include!(concat!(env!("OUT_DIR"), "/msp.rs"));
}

/// Fabric's peer package, named `protos` on the wire; re-exported as [`peer`].
#[doc(hidden)]
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    unreachable_pub,
    rust_2018_idioms
)]
pub mod protos {
    include!(concat!(env!("OUT_DIR"), "/protos.rs"));
}

/// Fabric's peer messages and services (protobuf package `protos`): proposals, responses,
/// transactions, validation codes, block events, and the Endorser and Deliver services.
pub use protos as peer;

/// Fabric's `lifecycle` package: `_lifecycle` arguments, results and state encoding.
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    unreachable_pub,
    rust_2018_idioms
)]
pub mod lifecycle {
    include!(concat!(env!("OUT_DIR"), "/lifecycle.rs"));
}

/// Cambium's `_lifecycle` extensions (protobuf package `cambium.lifecycle`, which Fabric does
/// not have): canary rollout plans, the rollout step arguments and status, the readiness report
/// and the upgrade grace window value, plus the carriers that append them to Fabric's messages
/// as fields 1000 (readiness) and 1001 (rollout plan).
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    unreachable_pub,
    rust_2018_idioms
)]
pub mod cambium_lifecycle {
    include!(concat!(env!("OUT_DIR"), "/cambium.lifecycle.rs"));
}

/// Fabric's `rwset` package: the per-namespace read/write set envelope.
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    unreachable_pub,
    rust_2018_idioms
)]
pub mod rwset {
    include!(concat!(env!("OUT_DIR"), "/rwset.rs"));
}

/// Fabric's `kvrwset` package: key-value reads, writes, range queries and versions.
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    unreachable_pub,
    rust_2018_idioms
)]
pub mod kvrwset {
    include!(concat!(env!("OUT_DIR"), "/kvrwset.rs"));
}

/// Fabric's `orderer` package: the AtomicBroadcast service, seek positions and orderer
/// configuration values.
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    unreachable_pub,
    rust_2018_idioms
)]
pub mod orderer {
    include!(concat!(env!("OUT_DIR"), "/orderer.rs"));
}

/// Fabric's `etcdraft` package: the Raft consenters and options of a channel configuration.
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    unreachable_pub,
    rust_2018_idioms
)]
pub mod etcdraft {
    include!(concat!(env!("OUT_DIR"), "/etcdraft.rs"));
}

/// Fabric's `gateway` package: the Gateway service and its messages.
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    unreachable_pub,
    rust_2018_idioms
)]
pub mod gateway {
    include!(concat!(env!("OUT_DIR"), "/gateway.rs"));
}

/// `google.rpc.Status`, the gRPC rich error status that carries `gateway.ErrorDetail`s.
#[allow(
    clippy::all,
    clippy::pedantic,
    missing_docs,
    unreachable_pub,
    rust_2018_idioms
)]
pub mod google_rpc {
    include!(concat!(env!("OUT_DIR"), "/google.rpc.rs"));
}

/// The serialized `google.protobuf.FileDescriptorSet` of every `.proto` file this crate
/// compiles (including imported well-known types).
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/cambium_descriptor.bin"));

pub mod block;
pub mod config;
pub mod config_update;
pub mod convert;
pub mod error;
pub mod hash;
pub mod status;
pub mod tx;

pub use convert::{
    decode_chaincode_event, decode_seek_info, decode_serialized_identity,
    decode_signature_policy_envelope, decode_tx_rwset, encode_chaincode_event, encode_seek_info,
    encode_serialized_identity, encode_signature_policy_envelope, encode_tx_rwset,
    tx_validation_code_from_i32,
};
pub use error::{Result, WireError};
/// Protobuf encoding and decoding of the generated messages (`encode_to_vec`, `decode`).
pub use prost::Message;
