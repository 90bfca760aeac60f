//! Integration tests of `cambium-ledger`: the conformance suite over both implementations,
//! recovery from damaged files, crash tests and property tests against a model.

mod concurrent;
mod conformance;
mod crash;
mod gen;
mod props;
mod recovery;
