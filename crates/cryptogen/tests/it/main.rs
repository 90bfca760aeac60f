//! Integration tests of `cambium-cryptogen`: generate real material on disk and check it with
//! independent tools (x509-parser with ring, and the `openssl` command).

mod certs;
mod config;
mod layout;
mod safety;
mod support;
