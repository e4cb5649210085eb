//! Encrypted transports for roaming clients: DNS over TLS ([`dot`]) and DNS
//! over HTTPS ([`doh`]), with certificates that follow renewals
//! ([`certs`]) and per-device access tokens ([`tokens`]).
//!
//! Both listeners hand every query to the same request handler as plain DNS
//! ([`exchange`]), so policy, access control, rate limits, metrics and logs
//! are the same on every transport. Resource use is bounded per listener
//! ([`limits`]).

pub mod certs;
pub mod doh;
pub mod dot;
pub mod exchange;
pub mod limits;
pub mod tokens;

#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod testutil;

pub use limits::Limits;
pub use tokens::{ClientAuth, Tokens, current_auth};
