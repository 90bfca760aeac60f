//! Integration tests of the peer: an in-process orderer (`cambium-orderer`) and one or two
//! peers on loopback, the kv contract compiled to wasm and endorsed through the real
//! endorser over gRPC, blocks pulled, verified, validated and committed by the committer.

mod commit;
mod config_update;
mod deliver;
mod endorsement_metrics;
mod gateway;
mod join;
mod ops;
mod orderer_signature;
mod support;
mod tls;
