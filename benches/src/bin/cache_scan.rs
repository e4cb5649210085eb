//! Does the answer cache keep the popular names through a scan of one-off
//! names? A bench binary (not criterion: it measures hit rates, not time).
//!
//! 10,000 popular names (the top of Umbrella's list, asked Zipf-skewed,
//! s = 1) warm the cache; then 1,000,000 one-off names (maltrail's list,
//! each asked once: new sites, or a random-subdomain flood) pass through
//! it, interleaved with popular queries (`ratio` one-off names per popular
//! query). A miss is inserted, as the resolver does. Printed: the popular
//! hit rate over the last 100,000 popular queries of the scan, and the
//! share of the 10,000 popular names still cached at its end.
//!
//! `cargo run --release -p parapet-benches --bin cache_scan [ratio] [toml]`
//! (`toml`: extra `[upstream]` lines, e.g. `cache_memory_mb = 16`).
//! Uses only the cache's public interface, so the same file runs against
//! older versions of the cache.

use std::path::Path;
use std::sync::Arc;

use hickory_proto::op::{Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::A;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use parapet_benches::{MALTRAIL, UMBRELLA, Zipf, read_lines};
use parapet_blocklist::{Blocklist, CompileOptions, Compiler, SourceSpec};
use parapet_resolver::Outcome;
use parapet_resolver::answer_cache::{AnswerCache, Key};
use parapet_resolver::wire::WireQuery;
use rand::SeedableRng;
use rand::rngs::StdRng;

const POPULAR: usize = 10_000;
const ONE_OFF: usize = 1_000_000;
const WINDOW: usize = 100_000;

/// A query for `name` and the upstream's answer (one A record, TTL 1 h).
fn exchange(name: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let name = Name::from_ascii(format!("{name}.")).ok()?;
    let mut q = Message::new(1, MessageType::Query, OpCode::Query);
    q.metadata.recursion_desired = true;
    q.add_query(Query::query(name.clone(), RecordType::A));
    let mut r = Message::new(1, MessageType::Response, OpCode::Query);
    r.metadata.recursion_desired = true;
    r.metadata.recursion_available = true;
    r.add_query(Query::query(name.clone(), RecordType::A));
    r.add_answer(Record::from_rdata(
        name,
        3600,
        RData::A(A::new(192, 0, 2, 1)),
    ));
    Some((q.to_vec().ok()?, r.to_vec().ok()?))
}

struct Bench {
    cache: Arc<AnswerCache>,
    list: Arc<Blocklist>,
    out: Vec<u8>,
}

impl Bench {
    /// Ask `query`: a hit, or a miss (then inserted if `insert`).
    fn ask(&mut self, query: &[u8], response: &[u8], insert: bool) -> bool {
        let Some(wq) = WireQuery::parse(query) else {
            return false;
        };
        let Some(key) = Key::of(&wq) else {
            return false;
        };
        let outcome = Outcome::Forwarded {
            rcode: ResponseCode::NoError,
        };
        if self
            .cache
            .answer_checked(&key, &wq, &self.list, 0, 65_535, &mut self.out)
            .is_some()
        {
            return true;
        }
        if insert {
            self.cache
                .insert_checked(&key, response, &self.list, 0, outcome);
        }
        false
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let ratio: usize = args.get(1).map_or(Ok(1), |a| a.parse())?;
    let extra = args.get(2).cloned().unwrap_or_default();
    let toml = format!("[upstream]\nservers = [\"127.0.0.1:9\"]\n{extra}\n");
    let config = parapet_resolver::config::from_toml_str(&toml, Path::new("."))?;
    let cache = AnswerCache::new(&config.upstream).ok_or("cache off")?;
    let mut compiler = Compiler::new(CompileOptions::default());
    compiler.add_reader(&SourceSpec::new("l.txt"), &b"blocked.invalid\n"[..])?;
    let list = Arc::new(Blocklist::from_bytes(compiler.to_bytes()?)?);
    let data = parapet_blocklist::data_dir();
    let popular: Vec<_> = read_lines(&data.join(UMBRELLA))?
        .iter()
        .filter_map(|n| exchange(n))
        .take(POPULAR)
        .collect();
    let one_off = read_lines(&data.join(MALTRAIL))?;
    let zipf = Zipf::new(popular.len(), 1.0);
    let mut rng = StdRng::seed_from_u64(14);
    let mut b = Bench {
        cache,
        list,
        out: Vec::new(),
    };
    for _ in 0..WINDOW {
        let (q, r) = &popular[zipf.sample(&mut rng)];
        b.ask(q, r, true);
    }
    let mut hits = Vec::with_capacity(ONE_OFF / ratio);
    let mut asked = 0;
    for (i, name) in one_off.iter().cycle().take(ONE_OFF).enumerate() {
        if let Some((q, r)) = exchange(&format!("{i}.{name}")) {
            b.ask(&q, &r, true);
            asked += 1;
        }
        if i % ratio == 0 {
            let (q, r) = &popular[zipf.sample(&mut rng)];
            hits.push(b.ask(q, r, true));
        }
    }
    let window = &hits[hits.len().saturating_sub(WINDOW)..];
    let rate = window.iter().filter(|h| **h).count() as f64 / window.len() as f64;
    // Which popular names are still cached (asked without inserting).
    let kept = popular.iter().filter(|(q, r)| b.ask(q, r, false)).count();
    println!(
        "{asked} one-off names, {ratio} per popular query, config {extra:?}: popular hit rate over the last {} popular queries {:.1}%, popular names still cached {:.1}%",
        window.len(),
        100.0 * rate,
        100.0 * kept as f64 / popular.len() as f64
    );
    Ok(())
}
