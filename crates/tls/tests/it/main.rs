//! Integration tests of `cambium-tls`: a real TLS gRPC server and client on 127.0.0.1 with
//! cryptogen's material.

mod dynamic;
mod echo;
mod handshake;
mod load;
