//! One module per subcommand family.

pub(crate) mod bench;
pub(crate) mod bench_upgrade;
pub(crate) mod call;
pub(crate) mod channel;
pub(crate) mod contract;
pub(crate) mod crypto;
pub(crate) mod governance;
pub(crate) mod history;
pub(crate) mod ledger;
pub(crate) mod lifecycle;
pub(crate) mod netgen;
pub(crate) mod network;
pub(crate) mod orderer;
pub(crate) mod peer;
pub(crate) mod up;
