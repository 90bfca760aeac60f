//! Criterion bench of the endorser.
fn main() {}
