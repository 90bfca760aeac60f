//! Integration tests of the endorser: real identities from `cambium-cryptogen`, the sample
//! channel from `cambium-channel`, an on-disk `cambium-ledger`, contracts compiled to wasm and
//! run by `cambium-vm`, and `cambium-validator` as the judge of what the endorser signs.

mod endorse;
mod governance;
mod grpc;
mod lifecycle;
mod migration;
mod observe;
mod qscc;
mod refusals;
mod rollout;
mod signing;
mod support;
