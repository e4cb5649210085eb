//! Lookup path: the compiled FST matcher against two hash baselines, same
//! run, same queries, on the 1.16M-domain maltrail list with a Zipf-skewed
//! mix of benign Umbrella names, listed names and their subdomains.
//!
//! `fst_lookalike` is the list lookup followed, for names it does not
//! block, by the look-alike check of the default `[lookalikes]` set, as on
//! the query path (compare it with `fst` in the same group).
//!
//! Also: load time (mmap + verify). Compile time is printed once at set-up;
//! BENCHMARKS.md times it with the CLI (`parapet-blocklist compile`).
//! Run: `cargo bench -p parapet-benches --bench lookup`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use parapet_benches::{AhashSuffixSet, MALTRAIL, OwnedNameMap, UMBRELLA, query_mix, read_lines};
use parapet_blocklist::{Blocklist, CompileOptions, Compiler, SourceSpec, Verdict};
use parapet_resolver::lookalike::{LookalikeConfig, Lookalikes};

/// Queries per measured iteration.
const BATCH: usize = 20_000;
/// Share of benign names in the headline mix: the rest are listed names and
/// their subdomains (real protective-DNS block rates are well under 5%).
const BENIGN_SHARE: f64 = 0.95;

/// The lookup benchmarks: the same inputs for every contender, built once.
///
/// Over 100 lines on purpose: one body sets up the shared inputs (the list,
/// the artifact, the hash sets, the mixes) and registers each group's
/// contenders beside each other, so a reader sees that they are measured on
/// exactly the same queries.
fn lookup(c: &mut Criterion) {
    let data = parapet_blocklist::data_dir();
    let (Ok(listed), Ok(benign)) = (
        read_lines(&data.join(MALTRAIL)),
        read_lines(&data.join(UMBRELLA)),
    ) else {
        eprintln!("SKIPPED: real data not found at {}", data.display());
        return;
    };
    let spec = SourceSpec::new(data.join(MALTRAIL));
    let started = std::time::Instant::now();
    let mut compiler = Compiler::new(CompileOptions::default());
    compiler.add_source(&spec).expect("compile maltrail");
    let bytes = compiler.to_bytes().expect("artifact");
    eprintln!(
        "maltrail: {} names, artifact {} bytes = {:.2} B/domain, compiled in {:.2?}",
        listed.len(),
        bytes.len(),
        bytes.len() as f64 / listed.len() as f64,
        started.elapsed()
    );
    let dir = std::env::temp_dir().join(format!("parapet-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("maltrail.pbl");
    std::fs::write(&path, &bytes).expect("write artifact");
    let list = Blocklist::open(&path).expect("open artifact");
    let hashset = AhashSuffixSet::new(&listed);
    let owned = OwnedNameMap::new(&listed);
    let lookalikes = Lookalikes::new(&LookalikeConfig::default()).expect("default set");
    let mixes = [
        (
            "lookup_mix",
            query_mix(&benign, &listed, BATCH, BENIGN_SHARE, 0x5eed),
        ),
        (
            "lookup_benign",
            query_mix(&benign, &listed, BATCH, 1.0, 0x5eed),
        ),
        (
            "lookup_listed",
            query_mix(&benign, &listed, BATCH, 0.0, 0x5eed),
        ),
    ];
    for (group, queries) in &mixes {
        // The matcher and the hash set agree on every query: maltrail rules are
        // plain subtree rules. (Names refused as public suffixes are absent
        // from the artifact, so the hash set may block a handful more.)
        let blocked = queries
            .iter()
            .filter(|q| list.check_name(q).is_block())
            .count();
        let base = queries.iter().filter(|q| hashset.contains(q)).count();
        eprintln!("{group}: {BATCH} queries, {blocked} blocked by fst, {base} by the hash set");
        let mut g = c.benchmark_group(*group);
        g.throughput(Throughput::Elements(BATCH as u64));
        g.sample_size(20)
            .warm_up_time(Duration::from_secs(1))
            .measurement_time(Duration::from_secs(3));
        g.bench_function("fst", |b| {
            b.iter(|| {
                queries
                    .iter()
                    .filter(|q| list.check_name(black_box(q)).is_block())
                    .count()
            })
        });
        g.bench_function("fst_lookalike", |b| {
            b.iter(|| {
                queries
                    .iter()
                    .filter(|q| match list.check_name(black_box(q)) {
                        Verdict::None => {
                            lookalikes.check(q.split('.').map(str::as_bytes)).is_some()
                        }
                        verdict => verdict.is_block(),
                    })
                    .count()
            })
        });
        g.bench_function("ahash_hashset", |b| {
            b.iter(|| {
                queries
                    .iter()
                    .filter(|q| hashset.contains(black_box(q)))
                    .count()
            })
        });
        g.bench_function("hashmap_owned", |b| {
            b.iter(|| {
                queries
                    .iter()
                    .filter(|q| owned.contains(black_box(q)))
                    .count()
            })
        });
        g.finish();
    }

    let mut g = c.benchmark_group("artifact");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3));
    g.bench_function("load_1m", |b| {
        b.iter(|| Blocklist::open(black_box(&path)).expect("open"))
    });
    g.finish();

    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, lookup);
criterion_main!(benches);
