//! A small parser for the Prometheus / OpenMetrics text exposition format,
//! strict enough to catch a malformed scrape: every sample belongs to a
//! family declared with `# TYPE`, label values are quoted and unescaped,
//! values are numbers, and an OpenMetrics body ends with `# EOF`.

use std::collections::{BTreeMap, HashMap};

/// One parsed scrape.
#[derive(Debug, Default)]
pub struct Exposition {
    /// `# TYPE` per family name.
    pub types: HashMap<String, String>,
    /// Samples: (series name, sorted labels) → value.
    pub samples: HashMap<(String, BTreeMap<String, String>), f64>,
}

impl Exposition {
    /// Parse `text`. Errors name the offending line.
    pub fn parse(text: &str) -> Result<Exposition, String> {
        let mut out = Exposition::default();
        let mut eof = false;
        for (n, line) in text.lines().enumerate() {
            let n = n + 1;
            if eof {
                return Err(format!("line {n}: content after # EOF"));
            }
            if line == "# EOF" {
                eof = true;
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest
                    .split_once(' ')
                    .ok_or_else(|| format!("line {n}: bad TYPE line {line:?}"))?;
                out.types.insert(name.to_owned(), kind.to_owned());
                continue;
            }
            if line.starts_with('#') || line.is_empty() {
                continue;
            }
            let (series, labels, rest) =
                parse_series(line).map_err(|e| format!("line {n}: {e}"))?;
            let value_text = rest.split_whitespace().next().unwrap_or("");
            let value: f64 = match value_text {
                "+Inf" => f64::INFINITY,
                "-Inf" => f64::NEG_INFINITY,
                v => v
                    .parse()
                    .map_err(|_| format!("line {n}: bad value {v:?} in {line:?}"))?,
            };
            if !out.types.keys().any(|family| belongs(&series, family)) {
                return Err(format!("line {n}: sample {series} has no # TYPE"));
            }
            if out.samples.insert((series, labels), value).is_some() {
                return Err(format!("line {n}: duplicate series {line:?}"));
            }
        }
        if !eof {
            return Err("no # EOF at the end".into());
        }
        Ok(out)
    }

    /// The value of `name` with exactly `labels`.
    pub fn get(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        self.samples.get(&(name.to_owned(), labels)).copied()
    }

    /// Sum over all series of `name` whose labels include `labels`.
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|((series, have), _)| {
                series == name
                    && labels
                        .iter()
                        .all(|(k, v)| have.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, v)| *v)
            .sum()
    }
}

/// Whether sample `series` is part of `family` (counters add `_total`,
/// histograms `_bucket`, `_sum`, `_count`, counters may add `_created`).
fn belongs(series: &str, family: &str) -> bool {
    series == family
        || series.strip_prefix(family).is_some_and(|suffix| {
            ["_total", "_bucket", "_sum", "_count", "_created", "_info"].contains(&suffix)
        })
}

type Labels = BTreeMap<String, String>;

/// `name{k="v",…}` → (name, labels, rest of the line after the series).
fn parse_series(line: &str) -> Result<(String, Labels, &str), String> {
    let name_end = line
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(line.len());
    let name = &line[..name_end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(format!("bad metric name in {line:?}"));
    }
    let mut labels = Labels::new();
    let mut rest = &line[name_end..];
    if let Some(mut inner) = rest.strip_prefix('{') {
        loop {
            if let Some(after) = inner.strip_prefix('}') {
                rest = after;
                break;
            }
            let eq = inner
                .find('=')
                .ok_or_else(|| format!("label without = in {line:?}"))?;
            let key = inner[..eq].trim_start_matches(',').to_owned();
            let mut chars = inner[eq + 1..].char_indices();
            if chars.next().map(|(_, c)| c) != Some('"') {
                return Err(format!("unquoted label value in {line:?}"));
            }
            let mut value = String::new();
            let mut end = None;
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => match chars.next().map(|(_, c)| c) {
                        Some('n') => value.push('\n'),
                        Some(c @ ('\\' | '"')) => value.push(c),
                        _ => return Err(format!("bad escape in {line:?}")),
                    },
                    '"' => {
                        end = Some(eq + 1 + i + 1);
                        break;
                    }
                    c => value.push(c),
                }
            }
            let end = end.ok_or_else(|| format!("unterminated label value in {line:?}"))?;
            labels.insert(key, value);
            inner = inner[end..].trim_start_matches(',');
        }
    }
    let rest = rest
        .strip_prefix(' ')
        .ok_or_else(|| format!("no value in {line:?}"))?;
    Ok((name.to_owned(), labels, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_counters_histograms_and_labels() {
        let text = "# HELP a_total x\n# TYPE a counter\na_total{p=\"udp\",o=\"blocked\"} 3\n\
                    # TYPE h histogram\nh_bucket{le=\"0.5\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 0.7\nh_count 2\n\
                    # TYPE g gauge\ng{k=\"a\\\"b\"} -1.5\n# EOF\n";
        let e = Exposition::parse(text).expect("valid");
        assert_eq!(
            e.get("a_total", &[("o", "blocked"), ("p", "udp")]),
            Some(3.0)
        );
        assert_eq!(e.get("h_count", &[]), Some(2.0));
        assert_eq!(e.get("h_bucket", &[("le", "+Inf")]), Some(2.0));
        assert_eq!(e.get("g", &[("k", "a\"b")]), Some(-1.5));
        assert_eq!(e.sum("a_total", &[("p", "udp")]), 3.0);
    }

    #[test]
    fn rejects_malformed_scrapes() {
        for bad in [
            "# TYPE a counter\na_total 1\n",                   // no EOF
            "a_total 1\n# EOF\n",                              // no TYPE
            "# TYPE a counter\na_total{p=udp} 1\n# EOF\n",     // unquoted
            "# TYPE a counter\na_total x\n# EOF\n",            // not a number
            "# TYPE a counter\na_total 1\na_total 2\n# EOF\n", // duplicate
        ] {
            assert!(Exposition::parse(bad).is_err(), "{bad:?}");
        }
    }
}
