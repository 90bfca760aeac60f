//! Cross-crate tests: repository invariants, interop with the official Fabric clients, and a
//! generated network run as separate processes with its fault drills.

mod diskfull;
mod load;
mod network;
mod node_client;
mod procnet;
mod revocation;
mod tidy;
