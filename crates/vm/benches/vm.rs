//! Criterion benches of the contract runtime (written next).

fn main() {}
