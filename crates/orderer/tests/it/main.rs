//! Integration tests of the ordering service: in-process orderers on loopback.

mod net;
mod single;
