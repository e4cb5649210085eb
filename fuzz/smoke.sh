#!/usr/bin/env bash
# Run every fuzz target for a bounded time (CI's fuzz smoke); fails on the
# first crash, leak, timeout or out-of-memory, whose input libFuzzer leaves
# in fuzz/artifacts/TARGET/. Prints the executions of each target.
#
# Usage: fuzz/smoke.sh [SECONDS_PER_TARGET (default 30)] [TARGET...]
# Builds on the stable toolchain: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass
# its -Z flags; no sanitizer (see README: the code under test forbids
# `unsafe`, and coverage without ASan runs about twice as many inputs).
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and python3 (seeds).
set -euo pipefail

FUZZ=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SECONDS_PER=${1:-30}
shift || true
TARGETS=("$@")
((${#TARGETS[@]})) || TARGETS=(wire_query answer_layout list_formats artifact config doh_request)
export RUSTC_BOOTSTRAP=1
# The fuzz crate has its own workspace; keep its build beside it.
export CARGO_TARGET_DIR=$FUZZ/target
FLAGS=(--sanitizer none --debug-assertions)

command -v cargo-fuzz >/dev/null 2>&1 || { echo "smoke.sh: cargo-fuzz missing: cargo install cargo-fuzz" >&2; exit 1; }
"$FUZZ/seeds.sh"
cd "$FUZZ"
cargo fuzz build "${FLAGS[@]}"
mkdir -p "$FUZZ/logs"
summary=()
for t in "${TARGETS[@]}"; do
    log=$FUZZ/logs/$t.log
    # -rss_limit_mb: a list or artifact must not balloon; -timeout: no input
    # may take a second (an endless loop fails here).
    if ! cargo fuzz run "${FLAGS[@]}" "$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_PER" -timeout=1 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 >"$log" 2>&1; then
        tail -n 40 "$log" >&2
        echo "smoke.sh: $t failed; reproduce: cargo fuzz run ${FLAGS[*]} $t fuzz/artifacts/$t/<file>" >&2
        exit 1
    fi
    execs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log" | tail -n 1)
    summary+=("$t: ${execs:-?} executions in ${SECONDS_PER}s")
done
printf 'fuzz smoke: %s\n' "${summary[@]}"
