//! The warning page: what a person sees when parapet blocks a site.

use std::net::SocketAddr;

/// The `[warning_page]` config section.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct WarningPageConfig {
    /// Where the page listens; default: the sinkhole addresses, port 80.
    #[serde(default)]
    pub listen: Option<Vec<SocketAddr>>,
    /// Who runs this resolver (shown on the page).
    pub organisation: Option<String>,
    /// Whom to contact about a mistake (name or team).
    pub contact: Option<String>,
    /// How to reach them (e-mail address or URL).
    pub contact_address: Option<String>,
}
