#!/usr/bin/env bash
# End-to-end load test: parapet against Unbound, side by side, on loopback.
#
# Starts an upstream authoritative server (NSD) with a synthetic zone, then,
# one after the other and pinned to the same CPU, parapet (release build, the
# 1.16M-domain maltrail list compiled to a .pbl artifact) and Unbound (the
# same list as local zones), both forwarding to that upstream; drives each
# with dnsperf (pinned to the other CPU) using identical query files, and
# prints one table of parapet/Unbound ratios, which it also writes to
# benches/results/DATE-load.md. Talks only to 127.0.0.1; every step has a deadline; every
# process it starts is stopped on exit.
#
# Usage: benches/load/run.sh [--quick] [--no-append] [--no-build] [--keep]
#                            [--install] [--only parapet|unbound]
#   --quick      smoke run (~2 min): 3 s runs, 6 s steady-rate runs
#   --no-append  print the table only, write no results file
#   --no-build   use the existing target/release binaries
#   --keep       keep the work directory (configs, query files, raw dnsperf
#                output) and print its path
#   --install    apt-get install the Debian packages it needs (default: only
#                check for them and name the missing ones)
#   --only S     run one server only (parapet or unbound), e.g. to profile;
#                the other column of the table stays empty
# Environment: PARAPET_DATA (default ../shared/data from the workspace root),
#   LOAD_SERVER_CPU (0), LOAD_CLIENT_CPU (1), LOAD_PORT (15353),
#   LOAD_UPSTREAM_PORT (15300), LOAD_DURATION / LOAD_STEADY_DURATION (seconds).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=benches/lib.sh
source "$HERE/../lib.sh"
# shellcheck source=benches/load/gen.sh
source "$HERE/gen.sh"
# shellcheck source=benches/load/report.sh
source "$HERE/report.sh"

QUICK=0 APPEND=1 BUILD=1 KEEP=0 INSTALL=0 SERVERS=(unbound parapet)
COMMAND_LINE="benches/load/run.sh $*"
while (($#)); do
    case $1 in
    --quick) QUICK=1 ;;
    --no-append) APPEND=0 ;;
    --no-build) BUILD=0 ;;
    --keep) KEEP=1 ;;
    --install) INSTALL=1 ;;
    --only)
        [[ ${2:-} == parapet || ${2:-} == unbound ]] || { echo "run.sh: --only parapet|unbound" >&2; exit 2; }
        SERVERS=("$2") APPEND=0
        shift
        ;;
    -h | --help)
        script_help "${BASH_SOURCE[0]}"
        exit 0
        ;;
    *) bad_arg "$1" ;;
    esac
    shift
done

DATA=${PARAPET_DATA:-$ROOT/../shared/data}
LIST_GZ=$DATA/domains/maltrail_domains.txt.gz
UMBRELLA_GZ=$DATA/benign/umbrella_top100k.txt.gz
SERVER_CPU=${LOAD_SERVER_CPU:-0}
CLIENT_CPU=${LOAD_CLIENT_CPU:-1}
PORT=${LOAD_PORT:-15353}
UP_PORT=${LOAD_UPSTREAM_PORT:-15300}
SINK4=127.0.0.1 SINK6=::1 BLOCK_TTL=60
ZONE_NAMES=300000 # names in the upstream zone
BLOCKED_QUERIES=100000 CACHE_QUERIES=50000 REAL_QUERIES=200000
# The realistic mix (#14): 30% blocked, 5% look-alikes of the default
# [lookalikes] set, 10% names that exist nowhere, 55% Zipf-popular names.
REAL_BLOCKED_PCT=30 REAL_LOOKALIKE_PCT=5 REAL_NX_PCT=10
# Pure-miss queries per run: more than either server answers in one run, so
# that no name is asked twice (the run goes through its file at most once).
DNSPERF_OPTS=(-c 4 -q 100 -T 1) # 4 client sockets, 100 queries in flight
if ((QUICK)); then
    DURATION=${LOAD_DURATION:-3} STEADY=${LOAD_STEADY_DURATION:-6} WATCHDOG_S=300
else
    DURATION=${LOAD_DURATION:-10} STEADY=${LOAD_STEADY_DURATION:-30} WATCHDOG_S=1200
fi
MISS_QUERIES=$((DURATION * 150000)) MISS_STEADY_QUERIES=$((STEADY * 120000))
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PARAPET=$TARGET_DIR/release/parapet
PBL_TOOL=$TARGET_DIR/release/parapet-blocklist

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# --- tools ---------------------------------------------------------------
# tool:Debian package
TOOLS=(unbound:unbound unbound-checkconf:unbound dnsperf:dnsperf nsd:nsd
    nsd-checkconf:nsd taskset:util-linux dig:bind9-dnsutils zcat:gzip
    awk:mawk timeout:coreutils curl:curl)
missing=()
for t in "${TOOLS[@]}"; do
    command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
done
if ((${#missing[@]})); then
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    if ((INSTALL)); then
        log "installing: ${missing[*]}"
        apt-get install -y "${missing[@]}" >&2
    else
        die "missing tools; install the Debian packages: apt-get install -y ${missing[*]} (or pass --install)"
    fi
fi
[[ -f $LIST_GZ && -f $UMBRELLA_GZ ]] || die "data not found under $DATA (set PARAPET_DATA)"
(($(nproc) >= 2)) || log "warning: fewer than 2 CPUs; server and dnsperf will share one"

# --- processes and clean-up ----------------------------------------------
PIDS=()
WORK=$(mktemp -d "${TMPDIR:-/tmp}/parapet-load.XXXXXX")
# Unbound's list files, the zone and one run's dnsperf -v output need ~1 GB.
free_mb=$(df -Pm "$WORK" | awk 'NR == 2 { print $4 }')
((free_mb >= 1024)) || {
    rmdir "$WORK"
    echo "run.sh: only ${free_mb} MB free under ${TMPDIR:-/tmp}; need 1 GB (set TMPDIR)" >&2
    exit 1
}
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pids "${PIDS[@]}"
    end_work "$rc"
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM
trap 'log "error: command failed at line $LINENO"' ERR
start_watchdog "$WATCHDOG_S" run.sh

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# cpu_busy CPU — "busy total" jiffies of one CPU from /proc/stat (idle and iowait not busy).
cpu_busy() { awk -v c="cpu$1" '$1 == c { t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t }' /proc/stat; }

# --- build and inputs ----------------------------------------------------
NEED_PARAPET=0
[[ " ${SERVERS[*]} " == *" parapet "* ]] && NEED_PARAPET=1
if ((BUILD && NEED_PARAPET)); then
    log "building release binaries"
    (cd "$ROOT" && cargo build --release -p parapet-resolver -p parapet-blocklist >&2)
fi
((!NEED_PARAPET)) || [[ -x $PARAPET && -x $PBL_TOOL ]] || die "release binaries not found in $TARGET_DIR/release (drop --no-build)"

log "work directory: $WORK"
log "generating the upstream zone ($ZONE_NAMES names)"
gen_zone "$UMBRELLA_GZ" "$WORK/root.zone" "$WORK/zone-names" "$ZONE_NAMES"
zcat "$LIST_GZ" >"$WORK/maltrail_domains.txt"
split_blocked "$WORK/maltrail_domains.txt" "$WORK/zone-names" "$WORK/benign-names"

COMPILE_S=n/a PBL_MB=n/a
if ((NEED_PARAPET)); then
    log "compiling the list with parapet-blocklist"
    t0=$EPOCHREALTIME
    "$PBL_TOOL" compile -o "$WORK/maltrail.pbl" "$WORK/maltrail_domains.txt" >"$WORK/compile.out" 2>&1 ||
        die "compile failed: $(tail -5 "$WORK/compile.out")"
    COMPILE_S=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }')
    PBL_MB=$(du -m "$WORK/maltrail.pbl" | cut -f1)
    log "compiled in ${COMPILE_S}s, artifact ${PBL_MB} MB"
    # Both servers get the names parapet's own `check` blocks: the list minus
    # the lines the compiler refused (public suffixes such as dyndns
    # domains), so that Unbound serves exactly the same policy.
    "$PBL_TOOL" check "$WORK/maltrail.pbl" - <"$WORK/maltrail_domains.txt" |
        awk -F '\t' '$2 == "block" { print $1 }' >"$WORK/list-names"
    n_list=$(wc -l <"$WORK/list-names") n_raw=$(grep -c . "$WORK/maltrail_domains.txt")
    ((n_list * 100 >= n_raw * 99)) || die "parapet-blocklist check blocks only $n_list of $n_raw list names"
else
    cp "$WORK/maltrail_domains.txt" "$WORK/list-names"
fi
LIST_NAMES=$(wc -l <"$WORK/list-names")
gen_blocked_candidates "$WORK/list-names" "$WORK/blocked-names" "$BLOCKED_QUERIES"
head -n "$CACHE_QUERIES" "$WORK/benign-names" >"$WORK/cache-names"
gen_queries_plain "$WORK/blocked-names" "$WORK/q-blocked" A
gen_queries_plain "$WORK/cache-names" "$WORK/q-cache" A
gen_lookalike_candidates "$WORK/lookalike-candidates"
if ((NEED_PARAPET)); then
    # Only the names parapet's look-alike check flags (most of them).
    "$PBL_TOOL" check "$WORK/maltrail.pbl" - <"$WORK/lookalike-candidates" |
        awk -F '\t' '$4 == "lookalikes" { print $1 }' >"$WORK/lookalike-names"
else
    cp "$WORK/lookalike-candidates" "$WORK/lookalike-names"
fi
N_LOOKALIKES=$(wc -l <"$WORK/lookalike-names")
((N_LOOKALIKES > 100)) || die "only $N_LOOKALIKES look-alike names"
gen_queries_realistic "$WORK/benign-names" "$WORK/blocked-names" "$WORK/lookalike-names" "$WORK/q-real" \
    "$REAL_QUERIES" "$REAL_BLOCKED_PCT" "$REAL_LOOKALIKE_PCT" "$REAL_NX_PCT" 42
gen_queries_miss "$WORK/benign-names" "$WORK/q-miss" "$MISS_QUERIES" miss
gen_queries_miss "$WORK/benign-names" "$WORK/q-miss-80" "$MISS_STEADY_QUERIES" steady
PROBE_BLOCKED=$(head -n 1 "$WORK/blocked-names")
PROBE_BENIGN=$(head -n 1 "$WORK/cache-names")
REAL_DISTINCT=$(awk '{ print $1 }' "$WORK/q-real" | sort -u | wc -l)

log "generating Unbound list includes"
gen_unbound_list "$WORK/list-names" "$WORK/unbound-nxdomain.conf" nxdomain "$SINK4" "$SINK6" "$BLOCK_TTL"
gen_unbound_list "$WORK/list-names" "$WORK/unbound-sinkhole.conf" sinkhole "$SINK4" "$SINK6" "$BLOCK_TTL"

# --- configs -------------------------------------------------------------
nsd_conf "$WORK/nsd.conf" "$UP_PORT" "$WORK" root.zone

# unbound_main_conf MODE — Unbound tuned fairly for one pinned thread:
# caches big enough for every zone name, no validation, no qname
# minimisation (benches/lib.sh's unbound_conf), the list for MODE.
unbound_main_conf() {
    local conf=$WORK/unbound-$1.main.conf
    unbound_conf "$conf" "$PORT" "$WORK" "$UP_PORT" \
        "msg-cache-size: 256m" "rrset-cache-size: 256m" \
        "num-queries-per-thread: 4096" "outgoing-range: 8192" \
        "include: \"$WORK/unbound-$1.conf\""
    echo "$conf"
}

# parapet_conf MODE — the same list, upstream and answers as Unbound's; no
# per-client rate limit (Unbound has none by default and dnsperf is one
# client), a cache big enough for every zone name (as Unbound's), metrics
# and warning page on spare loopback ports.
parapet_conf() {
    cat >"$WORK/parapet-$1.toml" <<EOF
[server]
listen = ["127.0.0.1:$PORT"]
[upstream]
servers = ["127.0.0.1:$UP_PORT"]
cache_memory_mb = 256
[blocklist]
path = "$WORK/maltrail.pbl"
[block]
action = "$1"
sinkhole_ipv4 = "$SINK4"
sinkhole_ipv6 = "$SINK6"
ttl = $BLOCK_TTL
[access]
allow = ["127.0.0.0/8"]
rate_limit_qps = 0
[metrics]
listen = "127.0.0.1:$((PORT + 1))"
[warning_page]
listen = ["127.0.0.1:$((PORT + 2))"]
${PARAPET_EXTRA_CONFIG:-}
EOF
    echo "$WORK/parapet-$1.toml"
}

# --- measurement ---------------------------------------------------------
declare -A R # R[server/config/metric] = value

# dnsperf_run SERVER PID LABEL QFILE SECONDS [QPS_LIMIT] [once]
# Records qps, mean and p99 latency (ms), lost and sent queries, server CPU.
# p99 comes from dnsperf -v's per-query latencies (1 µs buckets). With
# "once", QFILE is sent at most once (a pure-miss run never repeats a name).
dnsperf_run() {
    local srv=$1 pid=$2 label=$3 qfile=$4 secs=$5 limit=${6:-} once=${7:-} out c0 c1 b0 t0 b1 t1 extra=()
    out=$WORK/dnsperf-${srv//\//-}-$label.out
    [[ -n $limit ]] && extra=(-Q "$limit")
    [[ $once == once ]] && extra+=(-n 1)
    c0=$(cpu_ticks "$pid")
    read -r b0 t0 < <(cpu_busy "$CLIENT_CPU")
    timeout $((secs + 30)) taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$PORT" -d "$qfile" \
        -l "$secs" -t 2 "${DNSPERF_OPTS[@]}" "${extra[@]}" -v >"$out" 2>"$out.err" ||
        die "dnsperf failed ($srv $label): $(tail -3 "$out.err")"
    c1=$(cpu_ticks "$pid")
    read -r b1 t1 < <(cpu_busy "$CLIENT_CPU")
    local k="$srv/$label"
    # The load generator's CPU (with NSD and softirq work there): near 100%
    # means dnsperf, not the server, set the pace.
    R[$k/client]=$(awk -v b="$((b1 - b0))" -v t="$((t1 - t0))" 'BEGIN { printf "%.0f", (t > 0 ? b / t * 100 : 0) }')
    read -r "R[$k/sent]" "R[$k/lost]" "R[$k/qps]" "R[$k/mean]" "R[$k/p99]" "R[$k/codes]" < <(awk '
        /^> / && NF == 5 { b = int($5 * 1e6); h[b]++; n++ }
        /Queries sent:/ { sent = $3 }
        /Queries lost:/ { lost = $3 }
        /Queries per second:/ { qps = $4 }
        /Average Latency/ { mean = $4 * 1000 }
        /Response codes:/ { sub(/.*codes: */, ""); gsub(/ /, "_"); codes = $0 }
        END {
            want = n * 0.99; acc = 0; p99 = "nan"
            if (n > 0) { for (b = 0; acc < want; b++) acc += h[b]; p99 = sprintf("%.3f", (b - 1) / 1000) }
            if (codes == "") codes = "none"
            printf "%d %d %.0f %.3f %s %s\n", sent, lost, qps, mean, p99, codes
        }' "$out")
    # The per-query lines are large (about 40 bytes a query): keep only the summary.
    grep -v '^> ' "$out" >"$out.summary" || true
    mv "$out.summary" "$out"
    R[$k/cpu]=$(awk -v a="$c0" -v b="$c1" -v s="$secs" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.0f", (b - a) / hz / s * 100 }')
    log "  $srv $label: ${R[$k/qps]} qps, mean ${R[$k/mean]} ms, p99 ${R[$k/p99]} ms, lost ${R[$k/lost]}/${R[$k/sent]}, server cpu ${R[$k/cpu]}%, client cpu ${R[$k/client]}%, ${R[$k/codes]}"
}

# warm SERVER QFILE — one pass through QFILE, not measured.
warm() {
    timeout 120 taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$PORT" -d "$2" -n 1 -t 2 \
        "${DNSPERF_OPTS[@]}" >"$WORK/warm-$1.out" 2>&1 || die "warm-up failed for $1"
}

# start_server SERVER MODE — starts it pinned to SERVER_CPU, times start-up
# to the first right answer for a blocked name; sets SRV_PID.
start_server() {
    local srv=$1 mode=$2 conf expect t0
    [[ -z $(probe "$PORT" "$PROBE_BENIGN" A) ]] || die "something already answers on 127.0.0.1:$PORT"
    if [[ $mode == nxdomain ]]; then expect=NXDOMAIN; else expect="NOERROR $SINK4"; fi
    case $srv in
    unbound)
        conf=$(unbound_main_conf "$mode")
        t0=$EPOCHREALTIME
        start_bg "unbound-$mode" "$SERVER_CPU" unbound -d -c "$conf"
        ;;
    parapet)
        conf=$(parapet_conf "$mode")
        t0=$EPOCHREALTIME
        start_bg "parapet-$mode" "$SERVER_CPU" "$PARAPET" --config "$conf"
        ;;
    esac
    SRV_PID=$BG_PID
    wait_answer "$PORT" "$PROBE_BLOCKED" A "$expect" 120 "$SRV_PID"
    R[$srv/$mode/startup]=$(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }')
    R[$srv/$mode/rss_start]=$(rss_kb "$SRV_PID")
    # Answers are right before anything is measured.
    wait_answer "$PORT" "$PROBE_BENIGN" A "NOERROR 10." 10 "$SRV_PID"
    wait_answer "$PORT" "www.$PROBE_BLOCKED" A "$expect" 10 "$SRV_PID"
    log "$srv ($mode) answering after ${R[$srv/$mode/startup]}s, RSS $((R[$srv/$mode/rss_start] / 1024)) MB"
}

stop_server() {
    R[$1/$2/rss_end]=$(rss_kb "$SRV_PID")
    # parapet's upstream UDP sockets open after the runs (a gauge; bounded
    # by the pool, not by the load).
    if [[ $1 == parapet ]]; then
        R[parapet/$2/sockets]=$(curl -s --max-time 5 "http://127.0.0.1:$((PORT + 1))/metrics" |
            awk '$1 == "parapet_upstream_sockets" { print $2 }')
    fi
    stop_bg "$SRV_PID"
}

log "starting NSD upstream on 127.0.0.1:$UP_PORT (CPU $CLIENT_CPU)"
nsd_start "$WORK/nsd.conf" "$CLIENT_CPU" "$UP_PORT" "$PROBE_BENIGN"

for srv in "${SERVERS[@]}"; do
    log "== $srv, NXDOMAIN answers"
    start_server "$srv" nxdomain
    dnsperf_run "$srv/nxdomain" "$SRV_PID" blocked "$WORK/q-blocked" "$DURATION"
    # Pure misses: every name new, forwarded to NSD (NXDOMAIN there).
    dnsperf_run "$srv/nxdomain" "$SRV_PID" miss "$WORK/q-miss" "$DURATION" "" once
    rate=$(awk -v q="${R[$srv/nxdomain/miss/qps]}" 'BEGIN { printf "%d", q * 0.8 }')
    dnsperf_run "$srv/nxdomain" "$SRV_PID" miss-80 "$WORK/q-miss-80" "$STEADY" "$rate" once
    stop_server "$srv" nxdomain

    log "== $srv, sinkhole answers"
    start_server "$srv" sinkhole
    dnsperf_run "$srv/sinkhole" "$SRV_PID" blocked "$WORK/q-blocked" "$DURATION"
    warm "$srv" "$WORK/q-cache"
    dnsperf_run "$srv/sinkhole" "$SRV_PID" cache "$WORK/q-cache" "$DURATION"
    dnsperf_run "$srv/sinkhole" "$SRV_PID" real "$WORK/q-real" "$DURATION"
    for mix in blocked cache real; do
        rate=$(awk -v q="${R[$srv/sinkhole/$mix/qps]}" 'BEGIN { printf "%d", q * 0.8 }')
        dnsperf_run "$srv/sinkhole" "$SRV_PID" "$mix-80" "$WORK/q-$mix" "$STEADY" "$rate"
    done
    stop_server "$srv" sinkhole
done
stop_bg "$NSD_PID"

# --- report --------------------------------------------------------------
TABLE=$(print_table)
printf '\n%s\n' "$TABLE"
if ((APPEND)); then
    RESULT="$ROOT/benches/results/$(date -u '+%Y-%m-%d-%H%M')-load.md"
    write_result "$RESULT" "$TABLE"
    log "wrote $RESULT (update the summary in BENCHMARKS.md)"
fi
