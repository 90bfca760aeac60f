//! Integration tests of `cambium-wire`: round trips, golden bytes, protoutil helpers and the
//! descriptor compatibility check against Fabric's own descriptors.

mod block;
mod descriptor;
mod golden;
mod grpc;
mod roundtrip_domain;
mod roundtrip_messages;
mod strategies;
mod tx;
