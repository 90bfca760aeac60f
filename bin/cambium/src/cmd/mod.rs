//! One module per subcommand family.

pub(crate) mod crypto;
pub(crate) mod ledger;
