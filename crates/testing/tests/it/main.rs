//! Cross-crate tests: repository invariants and interop with the official Fabric clients.

mod node_client;
mod tidy;
