//! Integration tests of `cambium-node`: a development network in a temporary data directory
//! on free ports, driven with the same client code the CLI uses.

mod brake;
mod contract_cost;
mod history;
mod network;
mod signing;
mod support;
mod upgrade;
mod upgrade_bench;
mod watch;
