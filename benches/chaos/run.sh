#!/usr/bin/env bash
# Chaos run: parapet under steady load while its list reloads every few
# seconds, its upstream dies, loses packets and slows down, and a hostile
# client sends it garbage. On loopback only; bounded by a watchdog.
#
# Starts NSD (a synthetic zone, plus a wildcard for never-cached names)
# behind a UDP relay that drops and delays on command (relay.py: `tc
# netem` needs the sch_netem module, missing in containers), and parapet
# pinned to one CPU serving the 1.16M-name maltrail list. Measures
# parapet's maximum rate briefly (the same mix as the load), then holds
# 60% of it with dnsperf in three classes (85% cached names, 10% blocked
# names, 5% fresh names that must be forwarded) through these phases:
#   steady           no fault
#   upstream-down    NSD stopped (20 s; 10 s in smoke mode)
#   recovery         NSD started again; time until parapet answers again
#   loss30           the relay drops 30% of packets (both directions)
#   loss30-delay500  ... and holds each query 500 ms
#   garbage          malformed datagrams and oversized or stalled TCP
#                    frames from 127.0.0.2 (garbage.py)
#   calm             no fault
# All through, a publisher recompiles and republishes the list (list A and
# list B alternate: the maltrail list plus 5,000 names of its own, so they
# differ by 10,000 names), and a side client from 127.0.0.3 checks that
# names on the list in service are blocked and names on neither are
# answered (side_client.py). Prints per phase: queries sent, answered,
# lost, SERVFAIL, p50/p99 latency per class; the server's CPU and its wait
# for a CPU; RSS, open fds, reloads, blocking errors; then the targets.
# Exits 1 on a crash, a blocking error or a lost blocked or cached query
# that is not noise (unless CHAOS_LOSS_FATAL=0): in a phase where the server waited at most
# CHAOS_MAX_CPU_WAIT% (default 10) for its CPU, more queries lost than the
# kernel dropped from full receive buffers (/proc/net/snmp). Busier phases
# measure the other work on the machine; their losses are reported only.
#
# Usage: benches/chaos/run.sh [--smoke] [--duration S] [--release]
#                             [--no-build] [--no-append] [--keep]
#   --smoke       short run (2 minutes of phases), for CI
#   --duration S  seconds of phases (default 600, smoke 120)
#   --release     use (and build) release binaries (default: debug)
#   --no-build    use the existing binaries
#   --no-append   write no results file
#   --keep        keep the work directory and print its path
# Environment: PARAPET_DATA (default ../shared/data from the workspace
#   root), CHAOS_LIST_NAMES (use the first N names of the list; default
#   all), CHAOS_SERVER_CPU (0), CHAOS_CLIENT_CPU (1), CHAOS_PORT (16353;
#   the next ports hold metrics, the warning page, the relay and NSD),
#   CHAOS_LOAD_PCT (60), CHAOS_PUBLISH_EVERY (5 s), CHAOS_MAX_CPU_WAIT (10),
#   CHAOS_LOSS_FATAL (1; 0 reports lost queries without failing the run).
# Needs nsd, dnsperf, dig, curl, python3, taskset.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
declare -A R # R[PHASE/CLASS/METRIC], R[PHASE/METRIC]: the measurements
# shellcheck source=benches/lib.sh
source "$HERE/../lib.sh"
# shellcheck source=benches/load/gen.sh
source "$HERE/../load/gen.sh"
# shellcheck source=benches/chaos/inputs.sh
source "$HERE/inputs.sh"
# shellcheck source=benches/chaos/measure.sh
source "$HERE/measure.sh"
# shellcheck source=benches/chaos/report.sh
source "$HERE/report.sh"

SMOKE=0 DURATION='' BUILD=1 APPEND=1 KEEP=0 PROFILE=debug
COMMAND_LINE="benches/chaos/run.sh $*"
while (($#)); do
    case $1 in
    --smoke) SMOKE=1 ;;
    --duration)
        [[ ${2:-} =~ ^[0-9]+$ ]] || { echo "run.sh: --duration SECONDS" >&2; exit 2; }
        DURATION=$2
        shift
        ;;
    --release) PROFILE=release ;;
    --no-build) BUILD=0 ;;
    --no-append) APPEND=0 ;;
    --keep) KEEP=1 ;;
    -h | --help)
        script_help "${BASH_SOURCE[0]}"
        exit 0
        ;;
    *) bad_arg "$1" ;;
    esac
    shift
done

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
    log "FAILED: $*"
    exit 1
}

DATA=${PARAPET_DATA:-$ROOT/../shared/data}
LIST_GZ=$DATA/domains/maltrail_domains.txt.gz
UMBRELLA_GZ=$DATA/benign/umbrella_top100k.txt.gz
SERVER_CPU=${CHAOS_SERVER_CPU:-0}
CLIENT_CPU=${CHAOS_CLIENT_CPU:-1}
PORT=${CHAOS_PORT:-16353}
METRICS_PORT=$((PORT + 1)) PAGE_PORT=$((PORT + 2)) RELAY_PORT=$((PORT + 3)) NSD_PORT=$((PORT + 4))
LOAD_PCT=${CHAOS_LOAD_PCT:-60}
MAX_CPU_WAIT=${CHAOS_MAX_CPU_WAIT:-10}
LOSS_FATAL=${CHAOS_LOSS_FATAL:-1}
PUBLISH_EVERY=${CHAOS_PUBLISH_EVERY:-5}
UPSTREAM_TIMEOUT_MS=2000
SINK4=127.0.0.1 SIDE_ADDR=127.0.0.3 HOSTILE_ADDR=127.0.0.2
N_ONLY=5000 N_NEITHER=2000 N_CACHED=20000 N_BLOCKED=20000
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PARAPET=$TARGET_DIR/$PROFILE/parapet
PBL_TOOL=$TARGET_DIR/$PROFILE/parapet-blocklist

# Phase lengths: the faults fixed, the rest split between steady and calm.
if ((SMOKE)); then
    DURATION=${DURATION:-120} MAX_S=3
    declare -A SECS=([upstream-down]=10 [recovery]=10 [loss30]=15 [loss30-delay500]=15 [garbage]=15)
else
    DURATION=${DURATION:-600} MAX_S=5
    declare -A SECS=([upstream-down]=20 [recovery]=30 [loss30]=60 [loss30-delay500]=60 [garbage]=60)
fi
PHASES=(steady upstream-down recovery loss30 loss30-delay500 garbage calm)
CLASSES=(cached blocked fresh)
fixed=$((SECS[upstream-down] + SECS[recovery] + SECS[loss30] + SECS[loss30-delay500] + SECS[garbage]))
((DURATION >= fixed + 20)) || die "--duration must be at least $((fixed + 20)) s"
SECS[steady]=$(((DURATION - fixed) / 2))
SECS[calm]=$((DURATION - fixed - SECS[steady]))
WATCHDOG_S=$((DURATION + 600))

for tool in nsd nsd-checkconf dnsperf dig curl python3 taskset timeout; do
    command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install nsd dnsperf bind9-dnsutils curl python3 util-linux)"
done
[[ -f $LIST_GZ && -f $UMBRELLA_GZ ]] || die "data not found under $DATA (set PARAPET_DATA)"
if ((BUILD)); then
    flag=()
    [[ $PROFILE == release ]] && flag=(--release)
    (cd "$ROOT" && cargo build --locked "${flag[@]}" -p parapet-resolver -p parapet-blocklist --bins >&2) ||
        die "build failed"
fi
[[ -x $PARAPET && -x $PBL_TOOL ]] || die "binaries not found in $TARGET_DIR/$PROFILE (drop --no-build)"

# --- processes and clean-up ------------------------------------------------
PIDS=()
WORK=$(mktemp -d "${TMPDIR:-/tmp}/parapet-chaos.XXXXXX")
LIST_DIR=$WORK/list
mkdir "$LIST_DIR"
echo setup >"$WORK/phase"
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pids "${PIDS[@]}"
    end_work "$rc" "$WORK"/*.out
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM
start_watchdog "$WATCHDOG_S" run.sh
LOADAVG_START=$(cut -d' ' -f1-3 /proc/loadavg)

# --- inputs ------------------------------------------------------------------
log "work directory: $WORK; generating the zone, the lists and the queries"
gen_zone "$UMBRELLA_GZ" "$WORK/root.zone" "$WORK/zone-names" 300000
# A 1 s TTL: fresh names expire from the caches instead of filling them.
echo '*.fresh.chaos.test. 1 IN A 10.255.0.1' >>"$WORK/root.zone"
if [[ -n ${CHAOS_LIST_NAMES:-} ]]; then
    zcat "$LIST_GZ" | head -n "$CHAOS_LIST_NAMES" >"$WORK/maltrail.txt" || true
else
    zcat "$LIST_GZ" >"$WORK/maltrail.txt"
fi
LIST_NAMES_N=$(grep -c . "$WORK/maltrail.txt")
split_blocked "$WORK/maltrail.txt" "$WORK/zone-names" "$WORK/benign-names"
head -n "$N_CACHED" "$WORK/benign-names" >"$WORK/cache-names"
pick_sets "$WORK/benign-names" "$N_CACHED" "$WORK/side" "$N_ONLY" "$N_ONLY" "$N_NEITHER"
cat "$WORK/maltrail.txt" "$WORK/side.only-a" >"$WORK/list-A.txt"
cat "$WORK/maltrail.txt" "$WORK/side.only-b" >"$WORK/list-B.txt"
for l in A B; do
    log "compiling list $l ($((LIST_NAMES_N + N_ONLY)) names)"
    "$PBL_TOOL" compile -o "$WORK/first-$l.pbl" "$WORK/list-$l.txt" >"$WORK/compile-$l.out" 2>&1 ||
        die "compile failed: $(tail -3 "$WORK/compile-$l.out")"
done
PBL_MB=$(du -m "$WORK/first-A.pbl" | cut -f1)
keep_blocked "$PBL_TOOL" "$WORK/first-A.pbl" "$WORK/side.only-a"
keep_blocked "$PBL_TOOL" "$WORK/first-B.pbl" "$WORK/side.only-b"
gen_blocked_candidates "$WORK/maltrail.txt" "$WORK/blocked-names" "$N_BLOCKED"
# On both lists by their common part, not by a name of list A's own.
keep_blocked "$PBL_TOOL" "$WORK/first-A.pbl" "$WORK/blocked-names"
keep_blocked "$PBL_TOOL" "$WORK/first-B.pbl" "$WORK/blocked-names"
head -n 2000 "$WORK/blocked-names" >"$WORK/side.both"
gen_queries_plain "$WORK/blocked-names" "$WORK/q-blocked" A
# Cached names only: no blocked names, look-alikes or misses (the blocked
# file stands in for the unused look-alike list).
gen_queries_realistic "$WORK/cache-names" "$WORK/blocked-names" "$WORK/blocked-names" "$WORK/q-cached" 200000 0 0 0 42
gen_fresh max 100000 "$WORK/q-fresh-max"
interleave "$WORK/q-cached" "$WORK/q-blocked" "$WORK/q-fresh-max" "$WORK/q-max"
mv "$WORK/first-A.pbl" "$LIST_DIR/chaos.pbl"

# --- upstream, relay, server -------------------------------------------------
nsd_conf "$WORK/nsd.conf" "$NSD_PORT" "$WORK" root.zone
PROBE_BENIGN=$(head -n 1 "$WORK/cache-names")
PROBE_BLOCKED=$(head -n 1 "$WORK/blocked-names")
nsd_start "$WORK/nsd.conf" "$CLIENT_CPU" "$NSD_PORT" "$PROBE_BENIGN"
echo "0 0" >"$WORK/relay-mode"
start_bg relay "$CLIENT_CPU" python3 -u "$HERE/relay.py" "$RELAY_PORT" "$NSD_PORT" "$WORK/relay-mode"
RELAY_PID=$BG_PID
wait_answer "$RELAY_PORT" "$PROBE_BENIGN" A NOERROR 20 "$RELAY_PID"

cat >"$WORK/parapet.toml" <<EOF
[server]
listen = ["127.0.0.1:$PORT"]
[upstream]
servers = ["127.0.0.1:$RELAY_PORT"]
cache_size = 1048576
timeout_ms = $UPSTREAM_TIMEOUT_MS
[blocklist]
path = "$LIST_DIR/chaos.pbl"
[block]
action = "sinkhole"
sinkhole_ipv4 = "$SINK4"
ttl = 60
[access]
allow = ["127.0.0.0/8"]
rate_limit_qps = 0
[lookalikes]
action = "log" # checked as by default, but not blocked: the side client's names include look-alikes
[metrics]
listen = "127.0.0.1:$METRICS_PORT"
[warning_page]
listen = ["127.0.0.1:$PAGE_PORT"]
EOF
log "starting parapet ($PROFILE) on 127.0.0.1:$PORT, CPU $SERVER_CPU"
start_bg parapet "$SERVER_CPU" "$PARAPET" --config "$WORK/parapet.toml"
SRV_PID=$BG_PID
wait_answer "$PORT" "$PROBE_BLOCKED" A "NOERROR $SINK4" 120 "$SRV_PID"
wait_answer "$PORT" "$PROBE_BENIGN" A "NOERROR 10." 20 "$SRV_PID"

# --- warm-up and maximum -----------------------------------------------------
log "warming the cache (each cached query once)"
sort -u "$WORK/q-cached" >"$WORK/q-warm"
timeout 300 taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$PORT" -d "$WORK/q-warm" -n 1 -t 5 \
    -c 4 -q 100 >"$WORK/warm.out" 2>&1 || die "warm-up failed"
timeout 60 taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$PORT" -d "$WORK/q-max" -l "$MAX_S" -t 5 \
    -c 4 -q 100 >"$WORK/max.out" 2>&1 || die "measuring the maximum failed"
R[max_qps]=$(awk '/Queries per second:/ { printf "%d", $4 }' "$WORK/max.out")
((R[max_qps] > 0)) || die "no maximum rate measured"
RATE=$((R[max_qps] * LOAD_PCT / 100))
RATE_BLOCKED=$((RATE / 10)) RATE_FRESH=$((RATE / 20))
RATE_CACHED=$((RATE - RATE_BLOCKED - RATE_FRESH))
R[warm/rss]=$(rss_kb "$SRV_PID") R[warm/fds]=$(fd_count "$SRV_PID")
log "maximum ${R[max_qps]} QPS; holding $RATE QPS; after warm-up RSS $(mb "${R[warm/rss]}") MB, ${R[warm/fds]} fds"

# --- background: monitor, publisher, side client -----------------------------
: >"$WORK/monitor"
monitor "$SRV_PID" &
PIDS+=($!)
publisher >"$WORK/publisher.out" 2>&1 &
PUB_PID=$!
PIDS+=("$PUB_PID")
start_bg side "$CLIENT_CPU" python3 -u "$HERE/side_client.py" "$PORT" "$SIDE_ADDR" "$SINK4" \
    "$WORK/list-state" "$WORK/phase" "$WORK/side-counts" \
    "$WORK/side.only-a" "$WORK/side.only-b" "$WORK/side.both" "$WORK/side.neither"
SIDE_PID=$BG_PID

# --- faults --------------------------------------------------------------------
# relay_mode LOSS DELAY — set the relay's mode and wait until it says so.
relay_mode() {
    echo "$1 $2" >"$WORK/relay-mode"
    kill -HUP "$RELAY_PID"
    local i
    for ((i = 0; i < 100; i++)); do
        tail -n 1 "$WORK/relay.out" | grep -q "^mode loss=$1 delay=$2 " && return 0
        sleep 0.05
    done
    die "the relay did not take mode '$1 $2'"
}

# recovery_time — after NSD is back, seconds until parapet answers a name
# it has never seen (deadline 30 s; n/a if never).
recovery_time() {
    local t0=$EPOCHREALTIME i=0
    while (($(awk -v t="$(seconds_since "$t0")" 'BEGIN { print (t < 30) }'))); do
        i=$((i + 1))
        if [[ $(probe "$PORT" "recovery-$i.fresh.chaos.test" A) == NOERROR* ]]; then
            seconds_since "$t0"
            return
        fi
        sleep 0.05
    done
    echo n/a
}

# fault PHASE — start the phase's fault (the load is already running).
fault() {
    case $1 in
    upstream-down) stop_bg "$NSD_PID" ;;
    recovery)
        nsd_start "$WORK/nsd.conf" "$CLIENT_CPU" "$NSD_PORT" "$PROBE_BENIGN"
        R[recovery_s]=$(recovery_time)
        log "  upstream back; parapet answered a new name after ${R[recovery_s]} s"
        ;;
    loss30) relay_mode 0.3 0 ;;
    loss30-delay500) relay_mode 0.3 0.5 ;;
    garbage)
        relay_mode 0 0
        timeout $((SECS[garbage] + 30)) taskset -c "$CLIENT_CPU" python3 "$HERE/garbage.py" \
            "$PORT" "$HOSTILE_ADDR" "$((SECS[garbage] - 2))" >"$WORK/garbage.out" 2>&1 &
        GARBAGE_PID=$!
        ;;
    esac
}

# run_phase PHASE — the load for the phase's duration, with its fault.
run_phase() {
    local phase=$1 secs=${SECS[$1]} pid
    R[$phase/secs]=$secs
    echo "$phase" >"$WORK/phase"
    log "== $phase ($secs s)"
    gen_fresh "$phase" $((RATE_FRESH * secs)) "$WORK/q-fresh-$phase"
    CLASS_PIDS=()
    class_start "$phase" cached "$WORK/q-cached" "$secs" "$RATE_CACHED" 500
    class_start "$phase" blocked "$WORK/q-blocked" "$secs" "$RATE_BLOCKED" 200
    class_start "$phase" fresh "$WORK/q-fresh-$phase" "$secs" "$RATE_FRESH" \
        $((RATE_FRESH * 3 + 100)) once
    local drops0 run0 wait0 run1 wait1
    drops0=$(udp_rcvbuf_errors)
    read -r run0 wait0 < <(sched_ms "$SRV_PID")
    fault "$phase"
    for pid in "${CLASS_PIDS[@]}"; do wait "$pid" || die "dnsperf failed in $phase"; done
    R[$phase/rcvbuf]=$(($(udp_rcvbuf_errors) - drops0))
    read -r run1 wait1 < <(sched_ms "$SRV_PID")
    R[$phase/cpu]=$(((run1 - run0) / 10 / secs)) R[$phase/cpuwait]=$(((wait1 - wait0) / 10 / secs))
    if [[ $phase == garbage ]]; then
        wait "$GARBAGE_PID" || die "garbage.py failed: $(tail -3 "$WORK/garbage.out")"
        log "  hostile client: $(tail -n 1 "$WORK/garbage.out")"
    fi
    kill -0 "$SRV_PID" 2>/dev/null || die "parapet exited during $phase (see $WORK/parapet.out)"
    kill -0 "$PUB_PID" 2>/dev/null || die "the publisher stopped: $(tail -3 "$WORK/publisher.out")"
    R[$phase/rss]=$(rss_kb "$SRV_PID") R[$phase/fds]=$(fd_count "$SRV_PID")
    local class
    for class in "${CLASSES[@]}"; do class_read "$phase" "$class"; done
    R[$phase/qps]=$(($(sum_classes "$phase" answered "${CLASSES[@]}") / secs))
    log "  answered ${R[$phase/qps]} QPS; lost cached ${R[$phase/cached/lost]}, blocked ${R[$phase/blocked/lost]}, fresh ${R[$phase/fresh/lost]}; fresh SERVFAIL ${R[$phase/fresh/servfail]}; RSS $(mb "${R[$phase/rss]}") MB, ${R[$phase/fds]} fds"
}

for phase in "${PHASES[@]}"; do run_phase "$phase"; done
echo finished >"$WORK/phase"
stop_bg "$SIDE_PID"
stop_bg "$PUB_PID"
ALIVE=no
kill -0 "$SRV_PID" 2>/dev/null && ALIVE=yes
R[end/rss]=${R[calm/rss]} R[end/fds]=${R[calm/fds]}

# --- report ----------------------------------------------------------------------
phase_stats
HARD_MISSES=() MISSES=()
print_targets >"$WORK/targets.md" # not in a subshell: it fills MISSES
TABLE="$(print_tables)

$(<"$WORK/targets.md")"
printf '\n%s\n' "$TABLE"
if ((APPEND)); then
    RESULT="$ROOT/benches/results/$(date -u '+%Y-%m-%d-%H%M')-chaos.md"
    write_result "$TABLE" "$RESULT"
    log "wrote $RESULT (update the summary in RELIABILITY.md)"
fi
echo "chaos: blocking_errors=$(awk '{ e += $5 } END { print e + 0 }' "$WORK/side-counts") misses=${#MISSES[@]} hard_misses=${#HARD_MISSES[@]}"
((${#HARD_MISSES[@]} == 0)) || die "targets missed: ${HARD_MISSES[*]}"
