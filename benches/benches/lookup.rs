//! Lookup benchmarks.
fn main() {}
