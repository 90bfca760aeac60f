//! Test utilities shared by Cambium's integration tests, and the tests that span crates.
//!
//! The tests live in `tests/it/`: repository invariants (`tidy`) and interoperability with the
//! official Hyperledger Fabric Node libraries (`node_client`).

use std::path::{Path, PathBuf};

/// The root of the Cargo workspace this crate belongs to.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/testing sits two levels below the workspace root")
        .to_path_buf()
}
