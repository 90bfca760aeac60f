//! The operations endpoint of a Cambium node, shaped like Hyperledger Fabric's operations
//! service: a small HTTP(S) server beside the node's gRPC port.
//!
//! - `GET /healthz`: runs every registered [`HealthChecker`]; `200 {"status":"OK","time":…}`
//!   or `503 {"status":"Service Unavailable","time":…,"failed_checks":[{"component","reason"}]}`.
//! - `GET /metrics`: every metric of the node's [`Metrics`] in the Prometheus (OpenMetrics)
//!   text format.
//! - `GET /version`: `{"Version":…,"CommitSHA":…}` ([`VersionInfo`]).
//! - `GET /logspec` → `{"spec":"info"}`; `PUT /logspec` with `{"spec":"cambium_peer=debug,info"}`
//!   changes the node's log filter at once ([`LogControl`]); a bad spec is `400 {"error":…}`.
//!
//! TLS is optional as in Fabric ([`OpsTls`]); with `clientAuthRequired`, `/metrics` and
//! `/logspec` need a client certificate from the configured CAs while `/healthz` and
//! `/version` stay open to load balancers.
//!
//! [`Metrics`] defines Cambium's metrics in one place (block height, transactions by
//! validation code, endorsement and commit latency, broadcast results, gateway requests, Raft
//! state, contract-version invocations); nodes record into it and the endpoint encodes it.
//! [`client::get`] reads a path of another node's plain-HTTP endpoint (tools that follow
//! `/metrics`). [`init_logging`] installs the process's `tracing` subscriber (human or JSON lines) with the
//! reloadable filter `/logspec` changes.

pub mod client;
mod error;
pub mod health;
pub mod logging;
pub mod metrics;
pub mod server;

pub use error::{OpsError, Result};
pub use health::{FailedCheck, HealthChecker, HealthRegistry, HealthReport};
pub use logging::{init_logging, LogControl, LogFormat};
pub use metrics::{ContractVersionMetrics, EndorsementResult, Metrics};
pub use server::{serve, Operations, OpsConfig, OpsServer, OpsTls, VersionInfo};
