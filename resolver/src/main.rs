//! `parapet`: the resolver binary.
fn main() {}
