//! Integration tests of cambium-validator: real identities from `cambium-cryptogen`, real
//! proposals, endorsements and envelopes from `cambium-wire`, real signatures from
//! `cambium-msp`, validated against an in-memory ledger.

mod codes;
mod determinism;
mod support;
