//! `[blocklist]` and `[[feeds]]`: the lists in service and where they come
//! from.

use std::path::Path;

use parapet_blocklist::feed::FeedConfig;
use parapet_blocklist::{Format, SourceSpec};

use crate::config::issue::{Issues, Resolve};
use crate::config::raw::{RawBlocklist, RawSource};
use crate::config::types::{BlocklistConfig, ListSource};

/// `[blocklist]`: `path` or `sources` (whether the files exist is
/// [`crate::preflight`]'s check).
pub(super) fn blocklist(
    is: &mut Issues,
    raw: RawBlocklist,
    resolve: &Resolve<'_>,
) -> BlocklistConfig {
    let source = match (raw.path, raw.sources) {
        (Some(_), Some(_)) => {
            is.push("blocklist", "set either `path` or `sources`, not both");
            ListSource::Empty
        }
        (Some(p), None) => ListSource::Artifact(resolve.path(&p)),
        (None, Some(sources)) => ListSource::Sources(
            sources
                .into_iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    source_spec(is, &format!("blocklist.sources[{i}]"), s, resolve)
                })
                .collect(),
        ),
        (None, None) => ListSource::Empty,
    };
    BlocklistConfig {
        source,
        force_public_suffix: raw.force_public_suffix.unwrap_or(false),
        watch: raw.watch.unwrap_or(true),
    }
}

/// One entry of `blocklist.sources`.
fn source_spec(
    is: &mut Issues,
    key: &str,
    raw: RawSource,
    resolve: &Resolve<'_>,
) -> Option<SourceSpec> {
    match raw {
        RawSource::Short(s) => {
            let (format, path) = match s.split_once(':') {
                Some((f, p)) if f.parse::<Format>().is_ok() => (f.parse::<Format>().ok(), p),
                _ => (None, s.as_str()),
            };
            let mut spec = SourceSpec::new(resolve.path(Path::new(path)));
            spec.format = format;
            Some(spec)
        }
        RawSource::Table(t) => {
            let mut spec = SourceSpec::new(resolve.path(&t.path));
            if let Some(f) = t.format {
                match f.parse::<Format>() {
                    Ok(f) => spec.format = Some(f),
                    Err(e) => {
                        is.push(format!("{key}.format"), e);
                        return None;
                    }
                }
            }
            if let Some(n) = t.name {
                spec.name = n;
            }
            spec.category = t.category;
            spec.exact = t.exact;
            spec.allow = t.allow;
            Some(spec)
        }
    }
}

/// `[[feeds]]`: the updater's own checks (url or path, format, plain http
/// without a pin or key, ...), so that check-config reports them too; paths
/// resolved.
pub(super) fn feeds(
    is: &mut Issues,
    raw: Vec<FeedConfig>,
    resolve: &Resolve<'_>,
) -> Vec<FeedConfig> {
    for (i, f) in raw.iter().enumerate() {
        if let Err(e) = f.validate() {
            // "field: why" names the key `feeds[i].field`.
            match e.split_once(": ") {
                Some((field, why))
                    if field.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') =>
                {
                    is.push(
                        format!("feeds[{i}].{field}"),
                        format!("(feed {}) {why}", f.name),
                    )
                }
                _ => is.push(format!("feeds[{i}]"), format!("(feed {}) {e}", f.name)),
            }
        }
    }
    raw.into_iter()
        .map(|mut f| {
            f.path = f.path.map(|p| resolve.path(&p));
            f
        })
        .collect()
}
