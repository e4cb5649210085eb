//! End-to-end tests.
mod observe;
