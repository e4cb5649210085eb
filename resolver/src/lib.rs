//! parapet-resolver: a protective DNS resolver.
#![warn(missing_docs)]
