//! The built-in protected set, its known legitimate neighbours and the lure
//! words phishing pairs with a trusted name. README.md ("Look-alikes")
//! says why each protected domain is there.

/// Domains a candidate and their team sign in to or get mail from; `protect`
/// in the config adds to these.
pub const PROTECT: &[&str] = &[
    // Webmail and the Google account sign-in.
    "gmail.com",
    "google.com",
    "googlemail.com",
    // Microsoft mail and the Microsoft 365 / Entra sign-in.
    "outlook.com",
    "hotmail.com",
    "microsoft.com",
    "microsoftonline.com",
    "office.com",
    // Yahoo mail, Apple ID and iCloud mail.
    "yahoo.com",
    "icloud.com",
    "apple.com",
    // Proton Mail, common with campaign staff.
    "proton.me",
    "protonmail.com",
    // UK Parliament (members' mail and services) and GOV.UK sign-in.
    "parliament.uk",
    "gov.uk",
];

/// Legitimate neighbours of the default set (same owner under another
/// suffix, or an unrelated popular site one letter away). `label.*` allows
/// the label under every public suffix.
pub const ALLOW: &[&str] = &[
    "google.*",
    "yahoo.*",
    "apple.*",
    "microsoft.*",
    "office.*",
    "outlook.*",
    "hotmail.*",
    "proton.*",
    "parliament.*",
    // Microsoft Defender for Cloud Apps proxies Microsoft 365 names under it.
    "mcas.ms",
    // Same owners under other names: Google APIs, Akamai's DNS for Apple,
    // Microsoft 365 China and its sign-in helpers, Proton in Switzerland,
    // iCloud China.
    "googleapis.com",
    "akadns.net",
    "microsoftonline.cn",
    "microsoftonline-p.com",
    "microsoftonline-p.net",
    "protonmail.ch",
    "icloud.com.cn",
    // Google's short-link domains, Microsoft's static content and US
    // government cloud sign-in.
    "googl.com",
    "goo.gl",
    "s-microsoft.com",
    "microsoftonline.us",
];

/// Words joined to a trusted name by hyphens in phishing domains
/// (`gmail-login.com`, `secure-gov-uk.net`).
pub const LURES: &[&str] = &[
    "login",
    "log",
    "signin",
    "sign",
    "in",
    "secure",
    "security",
    "verify",
    "verification",
    "account",
    "accounts",
    "support",
    "help",
    "helpdesk",
    "mail",
    "webmail",
    "update",
    "auth",
    "password",
    "service",
    "services",
    "online",
    "my",
    "www",
    "portal",
    "access",
    "id",
    "sso",
    "official",
    "alert",
    "confirm",
    "recovery",
    "billing",
    "team",
    "app",
    "web",
    "user",
    "check",
    "notice",
];
