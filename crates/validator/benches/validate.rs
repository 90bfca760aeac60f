//! Criterion bench of block validation (written next).

fn main() {}
