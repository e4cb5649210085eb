//! The words: every sentence the warning page and `parapet explain` say.
//!
//! A [`Notice`] is a small structured document (title, sections of
//! paragraphs and lists of [`Span`]s). [`super::page`] renders it as HTML,
//! [`Notice::to_text`] as plain text for the terminal, so both say exactly the
//! same thing and the wording lives only here.

use crate::lookalike::config::LOOKALIKE_CATEGORY;
use std::fmt::Write as _;
use std::net::IpAddr;

use parapet_blocklist::RuleInfo;

use super::answer_blocks::AnswerBlock;
use super::config::WarningPageConfig;
use super::host::HostName;

/// Said when the config names no contact.
const DEFAULT_CONTACT: &str = "your party's IT or security contact";

/// A piece of inline text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    /// Plain text.
    Text(String),
    /// Emphasised text (the blocked site's name).
    Strong(String),
    /// Text to be read exactly (A-labels, rule patterns).
    Code(String),
    /// A link (only to the configured contact address).
    Link {
        /// Text shown.
        text: String,
        /// Target (`mailto:` or `http(s)://`).
        href: String,
    },
}

/// A block of text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// A paragraph.
    Para(Vec<Span>),
    /// A bulleted list of items.
    List(Vec<Vec<Span>>),
}

/// A titled group of blocks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Heading, if any.
    pub heading: Option<&'static str>,
    /// Contents.
    pub blocks: Vec<Block>,
}

/// The look of a page (its accent colour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// A warning about a blocked site, or protection that is off (red).
    Warning,
    /// A neutral note (grey).
    Neutral,
    /// Good news: this device is protected (green).
    Good,
}

/// A whole message: the warning for a blocked site or a generic note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Page title and first heading.
    pub title: String,
    /// How the page looks: a warning, a neutral note, or good news.
    pub tone: Tone,
    /// The body.
    pub sections: Vec<Section>,
    /// Closing line.
    pub footer: Vec<Span>,
}

pub(crate) fn text(s: impl Into<String>) -> Span {
    Span::Text(s.into())
}

pub(crate) fn para(spans: Vec<Span>) -> Block {
    Block::Para(spans)
}

/// The configured contact as spans: "the IT team (it@example.org)".
pub(crate) fn contact_spans(config: &WarningPageConfig) -> Vec<Span> {
    let who = config
        .contact
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or(DEFAULT_CONTACT);
    let mut spans = vec![text(who)];
    if let Some(address) = config
        .contact_address
        .as_deref()
        .filter(|a| !a.trim().is_empty())
    {
        spans.push(text(" ("));
        spans.push(contact_link(address.trim()));
        spans.push(text(")"));
    }
    spans
}

/// A mail address becomes a `mailto:` link, a web address a link; anything
/// else is shown as text and never becomes a link.
fn contact_link(address: &str) -> Span {
    let lower = address.to_ascii_lowercase();
    let is_url = ["https://", "http://", "mailto:"]
        .iter()
        .any(|scheme| lower.starts_with(scheme));
    let href = if is_url {
        Some(address.to_string())
    } else if address.contains('@') && !address.contains(char::is_whitespace) {
        Some(format!("mailto:{address}"))
    } else {
        None
    };
    match href {
        Some(href) => Span::Link {
            text: address.trim_start_matches("mailto:").to_string(),
            href,
        },
        None => text(address),
    }
}

/// "the protective DNS service run by ORG" / "… on this network".
pub(crate) fn service(config: &WarningPageConfig) -> String {
    match config
        .organisation
        .as_deref()
        .filter(|o| !o.trim().is_empty())
    {
        Some(org) => format!("the protective DNS service run by {org}"),
        None => "the protective DNS service on this network".to_string(),
    }
}

pub(crate) fn footer(config: &WarningPageConfig) -> Vec<Span> {
    match config
        .organisation
        .as_deref()
        .filter(|o| !o.trim().is_empty())
    {
        Some(org) => vec![text(format!("Protected by parapet, run by {org}."))],
        None => vec![text("Protected by parapet.")],
    }
}

/// What a category means, in plain words.
fn category_words(category: &str) -> String {
    match category.to_ascii_lowercase().as_str() {
        "phishing" => "phishing: a site that pretends to be someone you trust, \
                       to steal passwords or personal details"
            .into(),
        "malware" => "malware: a site that spreads harmful software, \
                      which can take over a device or steal information"
            .into(),
        "c2" | "botnet" | "command-and-control" => "a control server for harmful software \
             that has already infected other devices"
            .into(),
        "scam" | "fraud" => "a scam: a site that tries to trick people out of money".into(),
        "spyware" | "stalkerware" => "spyware: software that secretly watches what you do".into(),
        "test" => "a test name: parapet always blocks it, so that you can see this page".into(),
        other => format!("“{other}”"),
    }
}

/// The sentence saying what a matched rule means.
fn why_spans(rule: &RuleInfo) -> Vec<Span> {
    if rule.category.as_deref() == Some(LOOKALIKE_CATEGORY) {
        let real = &rule.pattern;
        return vec![text(format!(
            "This site's name imitates {real}; the real one is {real}. A name made to look \
             like a site you trust is a common trick to steal passwords: type {real} \
             yourself or use a bookmark."
        ))];
    }
    listed_spans(rule, "sites")
}

/// "It is on a list of known dangerous `what`, as CATEGORY. The list is
/// “LIST”."
fn listed_spans(rule: &RuleInfo, what: &str) -> Vec<Span> {
    let mut spans = match rule.category.as_deref().filter(|c| !c.trim().is_empty()) {
        Some(category) => vec![text(format!(
            "It is on a list of known dangerous {what}, as {}.",
            category_words(category)
        ))],
        None => vec![text(format!("It is on a list of known dangerous {what}."))],
    };
    spans.push(text(format!(" The list is “{}”.", list_name(&rule.source))));
    spans
}

/// How a blocked name is shown: the Unicode form beside the A-label for IDNs.
fn name_spans(host: &HostName) -> Vec<Span> {
    match &host.unicode {
        Some(unicode) => vec![
            Span::Strong(unicode.clone()),
            text(" (written out: "),
            Span::Code(host.ascii.clone()),
            text(")"),
        ],
        None => vec![Span::Strong(host.ascii.clone())],
    }
}

/// File-name endings of list files, left out when a list is named.
const LIST_FILE_ENDINGS: [&str; 9] = [
    ".gz", ".txt", ".hosts", ".list", ".rpz", ".zone", ".conf", ".csv", ".pbl",
];

/// How a list is named on the page: its feed or source `name`. A source
/// configured without one is named after its file: then only the file's
/// stem is shown (`sample-phishing`, not `/etc/parapet/sample-phishing.txt`),
/// never a path or a file name.
pub(crate) fn list_name(source: &str) -> &str {
    let mut name = source.rsplit('/').next().unwrap_or(source);
    while let Some(stem) = LIST_FILE_ENDINGS
        .iter()
        .find_map(|end| name.strip_suffix(end))
        .filter(|stem| !stem.is_empty())
    {
        name = stem;
    }
    name
}

/// The reference a person quotes when reporting a mistake.
fn reference(rule: &RuleInfo) -> String {
    match &rule.category {
        Some(category) => format!(
            "rule {}, list {}, category {}",
            rule.pattern,
            list_name(&rule.source),
            category
        ),
        None => format!("rule {}, list {}", rule.pattern, list_name(&rule.source)),
    }
}

/// The warning for a blocked site.
pub(crate) fn blocked(host: &HostName, rule: &RuleInfo, config: &WarningPageConfig) -> Notice {
    let mut why = why_spans(rule);
    let covers_parent = rule.pattern.trim_start_matches(['*', '.', '=']) != host.ascii
        && rule.category.as_deref() != Some(LOOKALIKE_CATEGORY);
    if covers_parent {
        why.push(text(" The whole site "));
        why.push(Span::Code(rule.pattern.clone()));
        why.push(text(" is blocked, including "));
        why.push(Span::Code(host.ascii.clone()));
        why.push(text("."));
    }
    warning(host, why, &reference(rule), config)
}

/// The warning for a site blocked because of where its address led: a
/// CNAME to a blocked site, a blocked address, or a private address.
pub(crate) fn blocked_by_answer(
    host: &HostName,
    block: &AnswerBlock,
    config: &WarningPageConfig,
) -> Notice {
    let (why, reference) = match block {
        AnswerBlock::Cname { target, rule } => {
            let mut why = vec![
                text(
                    "This site's name is not on a list itself, but its address led to another site, ",
                ),
                Span::Code(target.clone()),
                text(". "),
            ];
            why.extend(why_spans(rule));
            if rule.pattern.trim_start_matches(['*', '.', '=']) != target {
                why.push(text(" The whole site "));
                why.push(Span::Code(rule.pattern.clone()));
                why.push(text(" is blocked, including "));
                why.push(Span::Code(target.clone()));
                why.push(text("."));
            }
            (why, format!("{} (CNAME target {target})", reference(rule)))
        }
        AnswerBlock::Ip { address, rule } => {
            let mut why = vec![
                text("This site's name is not on a list itself, but its address is "),
                Span::Code(address.to_string()),
                text(". "),
            ];
            why.extend(listed_spans(rule, "addresses"));
            (
                why,
                format!("{} (answer address {address})", reference(rule)),
            )
        }
        AnswerBlock::Rebinding { address } => (
            vec![
                text("The address of this site is "),
                Span::Code(address.to_string()),
                text(
                    ", an address inside a private network such as your home or office. A \
                     public site has no reason to point there: it is a known trick (DNS \
                     rebinding) to reach your router or other devices through your browser.",
                ),
            ],
            format!("private address check (answer address {address})"),
        ),
    };
    warning(host, why, &reference, config)
}

/// The warning page around `why` (why the site was blocked) and
/// `reference` (what a person quotes when reporting a mistake).
fn warning(host: &HostName, why: Vec<Span>, reference: &str, config: &WarningPageConfig) -> Notice {
    let mut first = vec![text("You tried to open ")];
    first.extend(name_spans(host));
    first.push(text(format!(
        ". To protect you, {} (parapet) stopped your device from connecting to it.",
        service(config)
    )));
    let mut intro = vec![para(first)];
    if host.unicode.is_some() {
        intro.push(para(vec![text(
            "This address uses letters from other alphabets. It can look just like the name \
             of a site you know: look-alike letters are a common trick.",
        )]));
    }

    let mut tell = vec![text("Tell ")];
    tell.extend(contact_spans(config));
    tell.push(text(
        " what happened: which site, when, and where the link came from. \
         Someone may be trying to target you or your team.",
    ));

    let mut mistake = vec![text("If you are sure this site is safe, contact ")];
    mistake.extend(contact_spans(config));
    mistake.push(text(". Give them the site name and this reference: "));
    mistake.push(Span::Code(reference.to_string()));
    mistake.push(text("."));

    Notice {
        title: "Warning: this site was blocked to protect you".into(),
        tone: Tone::Warning,
        sections: vec![
            Section {
                heading: None,
                blocks: intro,
            },
            Section {
                heading: Some("Why was it blocked?"),
                blocks: vec![para(why)],
            },
            Section {
                heading: Some("You are safe"),
                blocks: vec![para(vec![text(
                    "Nothing from this site was loaded on your device. It was stopped before \
                     any connection was made, so there is nothing to clean up.",
                )])],
            },
            Section {
                heading: Some("What to do now"),
                blocks: vec![Block::List(vec![
                    vec![text(
                        "Do not enter passwords, codes or personal details on any page this \
                         link led to, and do not try to reach the site another way.",
                    )],
                    vec![text(
                        "If the link came in an email, text or message, do not click it again \
                         and do not reply to the sender.",
                    )],
                    tell,
                ])],
            },
            Section {
                heading: Some("Is this a mistake?"),
                blocks: vec![para(mistake)],
            },
        ],
        footer: footer(config),
    }
}

/// What the generic page is about.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Generic<'a> {
    /// A valid name that is not blocked now (an old cached answer).
    NotBlocked(&'a HostName),
    /// An IP literal, e.g. someone typed the sinkhole address.
    Ip,
    /// A Host value that is not a usable name (already shortened).
    Invalid(&'a str),
    /// No Host at all.
    Missing,
}

/// The short page for anything that is not a blocked name.
pub(crate) fn generic(subject: Generic<'_>, config: &WarningPageConfig) -> Notice {
    let mut blocks = Vec::new();
    match subject {
        Generic::NotBlocked(host) => {
            let mut spans = vec![text("You asked for ")];
            spans.extend(name_spans(host));
            spans.push(text(
                ". That site is not blocked now. Your device may still remember an old answer: \
                 close this tab and try again in a few minutes.",
            ));
            blocks.push(para(spans));
        }
        Generic::Invalid(shown) => blocks.push(para(vec![
            text("Your browser asked for "),
            Span::Code(shown.to_string()),
            text(", which is not a valid site name."),
        ])),
        Generic::Ip | Generic::Missing => {}
    }
    blocks.push(para(vec![text(format!(
        "This address belongs to {} (parapet). It shows a warning here when it blocks a \
         dangerous site.",
        service(config)
    ))]));
    let mut questions = vec![text("Questions? Contact ")];
    questions.extend(contact_spans(config));
    questions.push(text("."));
    blocks.push(para(questions));
    Notice {
        title: "parapet protective DNS".into(),
        tone: Tone::Neutral,
        sections: vec![Section {
            heading: None,
            blocks,
        }],
        footer: footer(config),
    }
}

/// Terminal-only: a name the list does not block, possibly because of an
/// exception.
pub(crate) fn not_blocked(host: &HostName, allowed_by: Option<&RuleInfo>) -> Notice {
    let mut spans = name_spans(host);
    match allowed_by {
        Some(rule) => {
            spans.push(text(" is not blocked: an exception allows it ("));
            spans.push(Span::Code(reference(rule)));
            spans.push(text(")."));
        }
        None => spans.push(text(
            " is not blocked by the list in service. A name can also be blocked by what it \
             resolves to (a CNAME to a blocked site, a blocked or a private address): \
             explain looks nothing up, only the running server sees that. Open the name in \
             a browser that uses parapet to see its warning page, or look for it in the \
             query log.",
        )),
    }
    terminal_note(spans)
}

/// Terminal-only: parapet's check name, answered whatever the lists say.
pub(crate) fn reserved_check(host: &HostName) -> Notice {
    let mut spans = name_spans(host);
    spans.push(text(
        " is parapet's check name: always answered with the sinkhole address, whatever the \
         lists say, so that the warning page can say \"this device is protected\".",
    ));
    terminal_note(spans)
}

/// Terminal-only: Firefox's canary name, answered NXDOMAIN whatever the
/// lists say ([`crate::answer::is_canary`]).
pub(crate) fn canary(host: &HostName) -> Notice {
    let mut spans = name_spans(host);
    spans.push(text(
        " is Firefox's DNS-over-HTTPS canary: always answered NXDOMAIN, whatever the lists \
         say, so that Firefox keeps using parapet instead of switching to its own DNS over \
         HTTPS.",
    ));
    terminal_note(spans)
}

/// Terminal-only: an address checked against the IP rules.
pub(crate) fn ip_checked(
    ip: IpAddr,
    blocked_by: Option<&RuleInfo>,
    allowed_by: Option<&RuleInfo>,
) -> Notice {
    let mut spans = vec![Span::Strong(ip.to_string())];
    if let Some(rule) = blocked_by {
        spans.push(text(
            " is blocked: any answer that contains this address is replaced by the warning. ",
        ));
        spans.extend(why_spans(rule));
        spans.push(text(" Reference: "));
        spans.push(Span::Code(reference(rule)));
        spans.push(text("."));
    } else if let Some(rule) = allowed_by {
        spans.push(text(" is not blocked: an exception allows it ("));
        spans.push(Span::Code(reference(rule)));
        spans.push(text(")."));
    } else {
        spans.push(text(" is not blocked by the list in service."));
    }
    terminal_note(spans)
}

/// Terminal-only: input that is neither a name nor an address.
pub(crate) fn not_a_name(shown: &str) -> Notice {
    terminal_note(vec![
        text("“"),
        text(shown),
        text("” is not a valid site name or IP address."),
    ])
}

fn terminal_note(spans: Vec<Span>) -> Notice {
    Notice {
        title: String::new(),
        tone: Tone::Neutral,
        sections: vec![Section {
            heading: None,
            blocks: vec![para(spans)],
        }],
        footer: Vec::new(),
    }
}

impl Notice {
    /// Plain text for a terminal: the same sentences as the page, headings
    /// on their own lines, list items with "- ", lines wrapped at 78 columns.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        if !self.title.is_empty() {
            let _ = writeln!(out, "{}\n", self.title);
        }
        for section in &self.sections {
            if let Some(heading) = section.heading {
                let _ = writeln!(out, "{heading}");
            }
            for block in &section.blocks {
                match block {
                    Block::Para(spans) => wrap(&mut out, &spans_text(spans), "", ""),
                    Block::List(items) => {
                        for item in items {
                            wrap(&mut out, &spans_text(item), "- ", "  ");
                        }
                    }
                }
                out.push('\n');
            }
        }
        if !self.footer.is_empty() {
            let _ = writeln!(out, "{}", spans_text(&self.footer));
        }
        while out.ends_with("\n\n") {
            out.pop();
        }
        out
    }
}

fn spans_text(spans: &[Span]) -> String {
    spans
        .iter()
        .map(|span| match span {
            Span::Text(s) | Span::Strong(s) | Span::Code(s) => s.as_str(),
            Span::Link { text, .. } => text.as_str(),
        })
        .collect()
}

/// Append `text` word-wrapped at 78 columns.
fn wrap(out: &mut String, text: &str, first: &str, rest: &str) {
    let mut line = String::from(first);
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > 78 {
            out.push_str(&line);
            out.push('\n');
            line = String::from(rest);
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
}

#[cfg(test)]
mod tests;
