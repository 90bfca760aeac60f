//! Integration tests of the gateway against real endorsers, ledgers and an orderer, through
//! a real gRPC gateway client.

mod commit;
mod endorse;
mod evaluate;
mod events;
mod submit;
mod support;
