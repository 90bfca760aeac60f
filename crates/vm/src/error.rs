//! The VM's error type: install-time refusals and run-time failures of the VM itself.
//!
//! A contract's *own* error is not here: it is a [`crate::Response`] with status ≥ 400. A
//! [`VmError`] from a call (trap, out of fuel, limit) has a [`Display`](std::fmt::Display) text
//! built only from the error's fields, which are the same on every peer; it never carries
//! wasmtime's text, addresses or backtraces.

use thiserror::Error;

/// Result with [`VmError`].
pub type Result<T, E = VmError> = std::result::Result<T, E>;

/// Everything that can go wrong installing or running a contract, apart from the contract's own
/// errors.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VmError {
    /// The bytes are not a WebAssembly module.
    #[error("not a WebAssembly module ({reason}); build the contract for wasm32-unknown-unknown")]
    NotWasm {
        /// What the parser found.
        reason: String,
    },
    /// The module is larger than [`crate::limits::MAX_MODULE_BYTES`].
    #[error("module is {size} bytes, over the limit of {limit}; build with opt-level=\"s\", LTO and strip")]
    ModuleTooLarge {
        /// The module's size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The module imports something outside the host allow-list.
    #[error("module imports '{module}.{name}', which the host does not provide; only functions of module 'cambium' listed in the VM's ABI may be imported")]
    ForbiddenImport {
        /// The import's module.
        module: String,
        /// The import's name.
        name: String,
    },
    /// An allowed import has the wrong signature.
    #[error("import 'cambium.{name}' has the wrong signature: expected {expected}; rebuild with a matching cambium-sdk")]
    ImportSignature {
        /// The import's name.
        name: String,
        /// The expected signature.
        expected: String,
    },
    /// A required export is missing or has the wrong kind or signature.
    #[error("module does not export {what}; declare the contract with cambium_sdk::contract!")]
    MissingExport {
        /// What is missing, e.g. "function 'cambium_invoke' () -> ()".
        what: String,
    },
    /// [`crate::Vm::migrate`] was asked to run a contract that has no migration.
    #[error("the contract has no migration (no '{}' export); commit the definition without running one, or declare `migrate => handler;` in cambium_sdk::contract!", crate::host::MIGRATE_EXPORT)]
    NoMigration,
    /// The manifest's `migrate` line and the module's exports disagree.
    #[error(
        "{reason}; build the contract with cambium_sdk::contract!, which keeps the two in step"
    )]
    MigrationMismatch {
        /// Which side says what.
        reason: String,
    },
    /// The embedded interface manifest is malformed.
    #[error("interface manifest is malformed: {reason}")]
    BadManifest {
        /// What was wrong.
        reason: String,
    },
    /// wasmtime refused to compile the module.
    #[error("module failed to compile: {reason}")]
    Compile {
        /// The compiler's message (install time only, never in a transaction result).
        reason: String,
    },
    /// Reading or writing the compiled-module cache failed.
    #[error("compiled-module cache at {path}: {reason}; check the directory's permissions and free space")]
    Cache {
        /// The cache file or directory.
        path: String,
        /// What failed.
        reason: String,
    },
    /// The engine could not be created with the given configuration.
    #[error("cannot create the WebAssembly engine: {reason}")]
    Engine {
        /// What wasmtime reported.
        reason: String,
    },
    /// The call ran out of fuel.
    #[error("out of fuel: the call used all {limit} units; the contract loops too long or the fuel limit is too low")]
    OutOfFuel {
        /// The fuel the call was given.
        limit: u64,
    },
    /// The contract tried to grow its memory or table past the limit.
    #[error("the contract exceeded its {what} limit of {limit}")]
    ResourceLimit {
        /// "memory bytes" or "table elements".
        what: &'static str,
        /// The limit.
        limit: usize,
    },
    /// The contract trapped (other than by running out of fuel).
    #[error("the contract trapped: {reason}")]
    Trap {
        /// The WebAssembly trap, e.g. "integer divide by zero".
        reason: String,
    },
    /// A host call got an input over one of the limits in [`crate::limits`].
    #[error("host call '{call}': {what} is {size}, over the limit of {limit}")]
    HostLimit {
        /// The host function.
        call: &'static str,
        /// Which input.
        what: &'static str,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// A host call got malformed input (bad pointer, invalid UTF-8, malformed list).
    #[error("host call '{call}': {problem}")]
    HostInput {
        /// The host function.
        call: &'static str,
        /// What was wrong.
        problem: String,
    },
    /// The contract returned without setting a response.
    #[error("the contract returned without a response; its entry point must call response_set (cambium_sdk::contract! does)")]
    NoResponse,
    /// The call's own input (from the client) is over a limit.
    #[error("call input: {what} is {size}, over the limit of {limit}")]
    CallTooLarge {
        /// Which input.
        what: &'static str,
        /// Its size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The state backend failed (not a contract outcome: the peer should answer 500).
    #[error("state backend failed: {0}")]
    State(#[from] crate::state::StateError),
}
