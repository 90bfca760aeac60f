//! Cambium's contract runtime: WebAssembly contracts run by wasmtime inside the peer, in place of
//! Fabric's chaincode containers.
//!
//! - [`Vm`]: one per process. [`Vm::install`] checks a module (size, host-import allow-list,
//!   required exports, manifest), compiles it ahead of time and caches the compiled code on disk
//!   keyed by the module hash and the engine fingerprint; [`Vm::execute`] runs one call in a fresh
//!   store against a [`StateView`] and returns the response, a sorted [`ReadWriteSet`], the event
//!   and the fuel used.
//! - Two error layers: the contract's own error is a [`Response`] with status ≥ 400; a VM failure
//!   is a [`VmError`] whose text is deterministic.
//! - [`Vm::migrate`]: a contract version's migration, run when its definition commits.
//! - [`compat`]: the compatibility check between two versions' manifests.
//! - [`package`]: Fabric-layout contract packages; [`toolchain`]: building contracts for wasm32.
//!
//! The guest ABI (imports, exports, encodings, limits) is described in this crate's README and in
//! [`host`]; the guest side is `cambium-sdk`.

pub mod compat;
mod error;
pub mod host;
pub mod limits;
pub mod manifest;
pub mod package;
pub mod rwset;
pub mod state;
pub mod toolchain;
mod vm;

pub use compat::{check as check_compat, CompatReport};
pub use error::{Result, VmError};
pub use manifest::{ArgSig, FunctionSig, Manifest};
pub use rwset::{KvRead, KvWrite, NsReadWriteSet, RangeQueryInfo, ReadWriteSet};
pub use state::{
    KeyModification, MemState, StateError, StateView, Timestamp, Version, VersionedValue,
};
pub use vm::{
    Call, CallOutcome, Contract, ContractEvent, ContractResolver, Creator, Env, Response, Vm,
    VmConfig,
};
