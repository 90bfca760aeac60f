//! Integration tests of the ordering service: in-process orderers on loopback.

mod cluster;
mod config;
mod net;
mod ops;
mod single;
mod tls;
