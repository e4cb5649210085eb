//! `parapet-blocklist`: compile, check, stats, bench.
fn main() {}
