//! Integration tests of the ordering service: in-process orderers on loopback.

mod cluster;
mod net;
mod single;
mod tls;
