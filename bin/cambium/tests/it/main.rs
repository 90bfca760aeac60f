//! End-to-end tests of the `cambium` command line, one module per subcommand family.

mod channel;
mod contract;
mod crypto;
mod ledger;
mod orderer;
mod peer;
mod support;
mod up;
