//! Integration tests of cambium-vm: install checks, calls through the real VM (contracts built
//! for wasm32 once per run), determinism, limits, migrations, and the example contracts run
//! natively.

mod common;
mod exec;
mod install;
mod memory;
mod migrate;
mod native;
mod stack;
