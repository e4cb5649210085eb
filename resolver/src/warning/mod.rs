//! The warning page: what a person sees when parapet blocks a site.
//!
//! A blocked name resolves to the sinkhole addresses; the browser then
//! connects there. This module serves that connection:
//!
//! - [`serve`] runs a small HTTP/1.1 server ([`server`]) on the
//!   [`WarningPageConfig::listen`] addresses. For a `Host` that the live list
//!   blocks, or that was recently blocked through its answer (a CNAME to a
//!   blocked site, a blocked or private address: [`AnswerBlocks`]), it
//!   answers a plain-words warning (which site, why, that nothing was
//!   loaded, what to do, whom to tell); for anything else a short generic
//!   page. Status 403, `Cache-Control: no-store`, nothing loaded from
//!   elsewhere.
//! - On the [`WarningPageConfig::tls_listen`] addresses it accepts and
//!   resets every connection ([`tls_reset`]): a sinkholed `https://` visit
//!   cannot show the page without a certificate the browser trusts, so the
//!   browser is given an immediate error instead of a hang.
//! - [`explain()`] says the same words in a terminal (`parapet explain`).
//! - `check.parapet.test`, `blocked.parapet.test` and `/status` are
//!   answered by [`crate::status`] (the check and status pages).
//!
//! The wording lives in one place, [`notice`]; [`page`] renders it as HTML
//! and [`notice::Notice::to_text`] as text. [`host`] turns the hostile
//! `Host` header into something safe to look up and show.

pub(crate) mod answer_blocks;
pub(crate) mod config;
mod explain;
pub(crate) mod host;
pub(crate) mod notice;
pub(crate) mod page;
mod server;
mod tls_reset;

pub use answer_blocks::AnswerBlocks;
pub use config::{
    DEFAULT_HEADER_TIMEOUT_SECS, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
    DEFAULT_PORT, DEFAULT_TLS_PORT, WarningPageConfig,
};
pub use explain::{explain, explain_with};
pub use server::{BindError, WarningListeners, serve, serve_with_lookalikes};
