//! Cambium's endorser, as Fabric's peer endorses proposals.
//!
//! - [`Endorser::process_proposal`] takes `protos.SignedProposal` bytes, runs Fabric's
//!   pre-checks in Fabric's order with Fabric's messages, simulates the call in `cambium-vm`
//!   against one ledger snapshot ([`LedgerState`]), and returns a [`ProposalResponse`]: endorsed
//!   with the peer's [`cambium_msp::SigningIdentity`] when the contract's status is below 400.
//!   See [`endorser`] for every check and response shape.
//! - [`ContractRegistry`] resolves a proposal's contract name to an installed contract and its
//!   definition's version; [`StaticRegistry`] is the map-backed one.
//! - [`to_tx_rwset`] converts the VM's read/write set into the ledger's sorted
//!   [`cambium_primitives::TxRwSet`], so endorsers produce byte-identical payloads.
//! - [`qscc`]: Fabric's query system chaincode (chain info, blocks, processed transactions).
//! - [`cscc`]: Fabric's configuration system chaincode (`GetChannels`, `GetConfigBlock`).
//! - `_lifecycle` (see [`lifecycle`] and `cambium-lifecycle`): proposals to `_lifecycle` run
//!   the lifecycle rules inside the same simulation (their read/write set goes into the
//!   proposal response like a contract's); channel-less install and installed-package queries
//!   get a `Response` only. [`DirPackageStore`] holds installed, compiled packages and
//!   [`LifecycleRegistry`] resolves contracts from committed definitions.
//! - [`EndorserService`] serves the `protos.Endorser` gRPC service.
//! - [`Endorser::set_observer`] reports each simulated contract proposal, per contract version
//!   the rollout routed it to, to an [`EndorsementObserver`] (the peer's metrics; see
//!   [`observe`]).
//!
//! **The endorser never writes state**: simulation results leave only as signed bytes.

pub mod cscc;
pub mod endorser;
pub mod error;
pub mod lifecycle;
pub mod observe;
pub mod qscc;
pub mod registry;
pub mod service;
pub mod state;

pub use endorser::{
    Endorser, EndorserChannel, LedgerSource, LedgerView, ProposalResponse, PROPOSE_POLICY,
};
pub use error::{EndorserError, Result};
pub use lifecycle::{DirPackageStore, LifecycleRegistry, PeerLifecycle};
pub use observe::{EndorsementObserver, EndorsementOutcome, EndorsementRecorder};
pub use registry::{
    ContractRegistry, InstalledContract, LookupError, ProposalOrigin, StaticRegistry,
};
pub use service::{error_status, EndorserService};
pub use state::{to_tx_rwset, LedgerState};
