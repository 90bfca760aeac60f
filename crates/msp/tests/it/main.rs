//! Integration tests of `cambium-msp`, with certificates generated per run by rcgen.

mod folders;
mod msp;
mod pki;
mod policies;
