//! HTML rendering of a [`Notice`]: one self-contained page, no scripts, no
//! fonts or images from anywhere, every echoed string escaped.

use std::fmt::Write as _;
use std::sync::LazyLock;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use super::notice::{Block, Notice, Span, Tone};

/// The page's only style sheet, inline. System fonts, large type, high
/// contrast; readable on a phone.
const STYLE: &str = "\
html{background:#f4f4f4;color:#1b1b1b;font:18px/1.5 system-ui,-apple-system,\"Segoe UI\",Roboto,Arial,sans-serif}\
body{margin:0;padding:1rem}\
main{max-width:40rem;margin:2rem auto;background:#fff;border-radius:8px;padding:1.5rem 2rem;box-shadow:0 1px 4px rgba(0,0,0,.15)}\
main.warning{border-top:12px solid #b00020}\
main.generic{border-top:12px solid #4a5a6a}\
main.good{border-top:12px solid #1e7b34}\
.good h1{color:#1e7b34}\
h1{font-size:1.6rem;line-height:1.25;margin:.25rem 0 1rem}\
.warning h1{color:#b00020}\
h2{font-size:1.15rem;margin:1.5rem 0 .4rem}\
p,li{margin:.4rem 0}\
ul{padding-left:1.4rem}\
strong{overflow-wrap:anywhere;font-size:1.1em}\
code{font:0.9em ui-monospace,Menlo,Consolas,monospace;background:#eee;padding:0 .2em;border-radius:3px;overflow-wrap:anywhere}\
a{color:#0b57d0}\
footer{margin-top:1.5rem;padding-top:.75rem;border-top:1px solid #ddd;color:#555;font-size:.9rem}\
@media (max-width:30rem){body{padding:.5rem}main{margin:.5rem auto;padding:1rem 1.25rem}}";

/// The `Content-Security-Policy` header: nothing may load, no script may
/// run; only the one inline style sheet (by hash) applies.
pub(crate) static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE.as_bytes()));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'"
    )
});

/// Escape text for HTML element content and double-quoted attributes.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn render_spans(out: &mut String, spans: &[Span]) {
    for span in spans {
        let _ = match span {
            Span::Text(s) => write!(out, "{}", escape(s)),
            Span::Strong(s) => write!(out, "<strong>{}</strong>", escape(s)),
            Span::Code(s) => write!(out, "<code>{}</code>", escape(s)),
            Span::Link { text, href } => write!(
                out,
                "<a href=\"{}\" rel=\"noreferrer\">{}</a>",
                escape(href),
                escape(text)
            ),
        };
    }
}

/// The whole page as HTML.
pub(crate) fn render(notice: &Notice) -> String {
    let mut out = String::with_capacity(4096);
    let class = match notice.tone {
        Tone::Warning => "warning",
        Tone::Neutral => "generic",
        Tone::Good => "good",
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <title>{title}</title><style>{STYLE}</style></head>\n\
         <body><main class=\"{class}\"><h1>{title}</h1>\n",
        title = escape(&notice.title),
    );
    for section in &notice.sections {
        if let Some(heading) = section.heading {
            let _ = writeln!(out, "<h2>{}</h2>", escape(heading));
        }
        for block in &section.blocks {
            match block {
                Block::Para(spans) => {
                    out.push_str("<p>");
                    render_spans(&mut out, spans);
                    out.push_str("</p>\n");
                }
                Block::List(items) => {
                    out.push_str("<ul>\n");
                    for item in items {
                        out.push_str("<li>");
                        render_spans(&mut out, item);
                        out.push_str("</li>\n");
                    }
                    out.push_str("</ul>\n");
                }
            }
        }
    }
    out.push_str("<footer>");
    render_spans(&mut out, &notice.footer);
    out.push_str("</footer></main></body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::super::config::WarningPageConfig;
    use super::super::notice::{self, Generic};
    use super::*;

    #[test]
    fn escape_covers_markup_and_quotes() {
        assert_eq!(
            escape(r#"<script>"a"&'b'</script>"#),
            "&lt;script&gt;&quot;a&quot;&amp;&#39;b&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn page_is_self_contained() {
        let config = WarningPageConfig {
            organisation: Some("<Org & \"Co\">".into()),
            contact_address: Some("it@party.example".into()),
            ..WarningPageConfig::default()
        };
        let html = render(&notice::generic(
            Generic::Invalid("<img src=x onerror=alert(1)>"),
            &config,
        ));
        assert!(!html.contains("<img"), "{html}");
        assert!(
            html.contains("&lt;img src=x onerror=alert(1)&gt;"),
            "{html}"
        );
        assert!(html.contains("&lt;Org &amp; &quot;Co&quot;&gt;"), "{html}");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<link") && !html.contains("url("), "{html}");
        assert!(
            !html.contains("http://") && !html.contains("https://"),
            "{html}"
        );
        assert!(html.contains("href=\"mailto:it@party.example\""), "{html}");
    }

    proptest::proptest! {
        /// Whatever bytes arrive as Host, parsing does not panic and the
        /// page echoes no markup from them.
        #[test]
        fn any_host_bytes_render_without_markup(raw in proptest::collection::vec(proptest::num::u8::ANY, 0..300)) {
            let config = WarningPageConfig::default();
            let host = super::super::host::Host::parse(Some(&raw));
            let notice = match &host {
                super::super::host::Host::Name(name) => notice::generic(Generic::NotBlocked(name), &config),
                super::super::host::Host::Invalid(shown) => notice::generic(Generic::Invalid(shown), &config),
                super::super::host::Host::Ip(_) => notice::generic(Generic::Ip, &config),
                super::super::host::Host::Missing => notice::generic(Generic::Missing, &config),
            };
            let html = render(&notice);
            let body = html.split("<body>").nth(1).unwrap_or_default();
            // Only the page's own tags appear in the body.
            for tag in body.split('<').skip(1) {
                let name: String = tag.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '/').collect();
                proptest::prop_assert!(
                    ["main", "/main", "h1", "/h1", "p", "/p", "code", "/code", "strong", "/strong", "a", "/a", "footer", "/footer", "/body", "/html"].contains(&name.as_str()),
                    "unexpected tag {:?} in {}", name, body
                );
            }
            proptest::prop_assert!(body.len() < 4000);
        }
    }

    #[test]
    fn csp_allows_exactly_the_inline_style() {
        let csp = CONTENT_SECURITY_POLICY.as_str();
        assert!(
            csp.starts_with("default-src 'none'; style-src 'sha256-"),
            "{csp}"
        );
        assert!(!csp.contains("unsafe"), "{csp}");
    }
}
