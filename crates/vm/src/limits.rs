//! Named bounds on everything a contract can send to the host, and the VM's default budgets.
//!
//! Every host-call input is checked against one of these before the host reads it; going over
//! ends the call with [`crate::VmError::HostLimit`], the same on every peer.

/// Largest accepted module, in bytes (checked at install).
pub const MAX_MODULE_BYTES: usize = 4 * 1024 * 1024;
/// Largest state key, in bytes.
pub const MAX_KEY_BYTES: usize = 2 * 1024;
/// Largest state value, in bytes.
pub const MAX_VALUE_BYTES: usize = 1024 * 1024;
/// Most keys one range call returns (a page size above this is refused).
pub const MAX_RANGE_RESULTS: u32 = 1_000;
/// Most history entries one history call returns (newest first).
pub const MAX_HISTORY_RESULTS: usize = 1_000;
/// Most distinct keys one call (including nested calls) may write.
pub const MAX_WRITES_PER_CALL: usize = 10_000;
/// Most distinct keys one migration (a contract's `migrate`, run when the commit of its new
/// definition is endorsed, including nested calls) may write.
///
/// A migration converts a whole namespace in one transaction, so it gets more room than a
/// client's call. Its read/write set still has to fit in one envelope under the channel's
/// `AbsoluteMaxBytes` (each record costs its key twice, the version read and the new value, plus
/// framing), which Broadcast enforces.
pub const MAX_WRITES_PER_MIGRATION: usize = 250_000;
/// Largest event name, in bytes.
pub const MAX_EVENT_NAME_BYTES: usize = 256;
/// Largest event payload, in bytes.
pub const MAX_EVENT_PAYLOAD_BYTES: usize = 1024 * 1024;
/// Largest response payload, in bytes.
pub const MAX_RESPONSE_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;
/// Largest response message, in bytes.
pub const MAX_RESPONSE_MESSAGE_BYTES: usize = 4 * 1024;
/// Longest panic message kept; longer ones are cut (at a character boundary).
pub const MAX_PANIC_MESSAGE_BYTES: usize = 4 * 1024;
/// Largest contract name in a cross-contract call, in bytes.
pub const MAX_CONTRACT_NAME_BYTES: usize = 256;
/// Largest encoded argument list of a cross-contract call, in bytes.
pub const MAX_INVOKE_ARGS_BYTES: usize = 1024 * 1024;
/// Deepest chain of cross-contract calls.
pub const MAX_CALL_DEPTH: u32 = 8;
/// Largest total size of a call's arguments as given by the client, in bytes.
pub const MAX_INPUT_BYTES: usize = 8 * 1024 * 1024;
/// Most arguments in one call (function name included).
pub const MAX_ARGS: usize = 256;

/// Fuel charged for every host call, on top of the bytes it moves.
pub const HOST_CALL_FUEL: u64 = 1_000;
/// Fuel charged per byte a host call copies in or out of the contract.
pub const FUEL_PER_BYTE: u64 = 1;

/// Default fuel for one call (roughly one unit per WebAssembly instruction).
pub const DEFAULT_FUEL: u64 = 1_000_000_000;
/// How many times a call's fuel a migration gets. Converting a record costs the example pair
/// about 32,500 fuel, so with [`DEFAULT_FUEL`] a migration can convert about 300,000 records,
/// above [`MAX_WRITES_PER_MIGRATION`]; a looping migration still stops, on every peer at the
/// same instruction.
pub const MIGRATION_FUEL_FACTOR: u64 = 10;
/// Default limit of a contract's linear memory, in bytes.
pub const DEFAULT_MAX_MEMORY_BYTES: usize = 64 * 1024 * 1024;
/// Default limit of a contract's table elements.
pub const DEFAULT_MAX_TABLE_ELEMENTS: usize = 10_000;
/// Default WebAssembly stack limit, in bytes.
pub const DEFAULT_MAX_WASM_STACK: usize = 512 * 1024;

/// Concurrent calls the default pooling allocator holds (each with room for its nested calls).
pub const DEFAULT_CONCURRENT_CALLS: u32 = 16;
/// Guard region after each pooled linear memory, in bytes.
pub const POOL_GUARD_BYTES: u64 = 64 * 1024;
/// Bytes of each pooled memory and table reset in place (zeroed or copied back from the
/// module's image) rather than given back with `madvise`. With `PAGEMAP_SCAN` (Linux 6.7+)
/// these are the first bytes of pages the call actually wrote, wherever they are; without it,
/// the lowest bytes of the memory.
pub const POOL_KEEP_RESIDENT_BYTES: usize = 1024 * 1024;
