#!/usr/bin/env bash
# Cluster demonstration and test: parapet replicas behind dnsdist, one
# signed list pipeline, failover — on one machine, in network namespaces.
#
# Builds (all addresses inside namespaces this script creates, 10.99.0.0/24):
#   web  10.99.0.2   the update node: signs the compiled artifact with
#                    minisign and serves it over HTTP (python3 http.server);
#                    also a stub upstream (dnsdist answering every A/AAAA)
#   lb   10.99.0.3   dnsdist in front (leastOutstanding, health check with a
#                    real query every second, no packet cache); dnsperf and
#                    the side client run here
#   rN   10.99.0.1N  parapet replica N (N = 1..3), fed by a
#                    `parapet-blocklist fetch` loop every FETCH_INTERVAL s
# Then: QPS through dnsdist with 1, 2 and 3 replicas; kills replica 3 under
# load (queries lost in the detection window, and after dnsdist marks it
# down: must be 0); restarts it; publishes a new list (every replica must
# serve it within FETCH_INTERVAL + 5 s; a side client checks a newly listed
# name through dnsdist); replays the older signed artifact (every replica
# must refuse it). Exits 1 if a check fails. The last line is:
#   cluster: replicas=3 lost_after_detection=N lost_in_window=N detection_s=S
#            propagation_s=S replay_refused=yes|no qps_1=Q qps_2=Q qps_3=Q
#
# Usage: benches/cluster/run.sh [--quick] [--no-append] [--no-build] [--release]
#   --quick      CI run (about a minute): 3 s load runs
#   --no-append  do not write the table to BENCHMARKS.md
#   --no-build   use existing binaries
#   --release    use (and build) release binaries (default: debug)
#   --keep       keep the work directory (configs, logs, dnsperf output)
# Needs root (ip netns), dnsdist, dnsperf, dig, minisign, curl, python3.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=benches/lib.sh
source "$HERE/../lib.sh"
# shellcheck source=benches/cluster/net.sh
source "$HERE/net.sh"

QUICK=0 APPEND=1 BUILD=1 KEEP=0 PROFILE=debug
while (($#)); do
    case $1 in
    --quick) QUICK=1 ;;
    --no-append) APPEND=0 ;;
    --no-build) BUILD=0 ;;
    --release) PROFILE=release ;;
    --keep) KEEP=1 ;;
    -h | --help)
        script_help "${BASH_SOURCE[0]}"
        exit 0
        ;;
    *) bad_arg "$1" ;;
    esac
    shift
done

if ((QUICK)); then LOAD_S=3 WATCHDOG_S=280; else LOAD_S=10 WATCHDOG_S=900; fi
FETCH_INTERVAL=${CLUSTER_FETCH_INTERVAL:-2}
FAILOVER_QPS=${CLUSTER_FAILOVER_QPS:-1000} # steady rate while a replica dies
SINK=10.99.0.250 WEB=10.99.0.2 LB=10.99.0.3 API_KEY=parapet-cluster-test
TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/target}
PARAPET=$TARGET_DIR/$PROFILE/parapet
PBL=$TARGET_DIR/$PROFILE/parapet-blocklist
TAG=pcl$$

log() { printf '%s run.sh: %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
die() {
    log "FAILED: $*"
    exit 1
}
((EUID == 0)) || die "needs root (ip netns)"
for tool in dnsdist dnsperf dig minisign curl python3 ip timeout; do
    command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install dnsdist dnsperf bind9-dnsutils minisign curl)"
done
if ((BUILD)); then
    flag=()
    [[ $PROFILE == release ]] && flag=(--release)
    (cd "$ROOT" && cargo build --locked "${flag[@]}" -p parapet-resolver -p parapet-blocklist --bins) ||
        die "build failed"
fi
[[ -x $PARAPET && -x $PBL ]] || die "binaries not found in $TARGET_DIR/$PROFILE (drop --no-build)"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/parapet-cluster.XXXXXX")
PIDS=()
declare -A REPLICA_PID
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_pids "${PIDS[@]}" "${REPLICA_PID[@]}"
    net_teardown
    end_work "$rc" "$WORK"/*.log
    exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM
start_watchdog "$WATCHDOG_S" run.sh

# bg NS NAME CMD... — start CMD in namespace NS, output to $WORK/NAME.log;
# BG_PID is CMD's own process (ip netns exec execs it).
bg() {
    local ns=$1 name=$2
    shift 2
    ip netns exec "$ns" "$@" >"$WORK/$name.log" 2>&1 &
    BG_PID=$!
}

# wait_until SECS WHAT CMD... — poll CMD every 0.1 s until it succeeds.
wait_until() {
    local secs=$1 what=$2 end
    shift 2
    end=$(($(date +%s%N) + secs * 1000000000))
    until "$@" >/dev/null 2>&1; do
        (($(date +%s%N) < end)) || die "$what: not within ${secs}s"
        sleep 0.1
    done
}

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# answers NS SERVER NAME ADDR — whether SERVER answers NAME A with ADDR.
answers() {
    in_ns "$1" dig @"$2" +tries=1 +time=1 +short "$3" A 2>/dev/null | grep -qx "$4"
}

# backend_field N FIELD — a field of replica N in dnsdist's API (state, queries).
backend_field() {
    in_ns "$TAG-lb" curl -s -m 2 -H "X-API-Key: $API_KEY" \
        "http://127.0.0.1:8083/api/v1/servers/localhost" |
        python3 -c 'import json, sys
for s in json.load(sys.stdin)["servers"]:
    if s["name"] == sys.argv[1]: print(str(s[sys.argv[2]]).lower())' "r$1" "$2"
}
backend_state() { backend_field "$1" state; }
is_state() { [[ $(backend_state "$1") == "$2" ]]; }

source "$HERE/steps.sh"

# The README's dnsdist configuration is valid for the dnsdist installed.
awk '/^```lua/ { f = 1; next } /^```/ { f = 0 } f' "$ROOT/README.md" >"$WORK/readme-dnsdist.lua"
[[ -s $WORK/readme-dnsdist.lua ]] || die "no dnsdist (lua) example in README.md"
dnsdist --check-config -C "$WORK/readme-dnsdist.lua" >/dev/null || die "README's dnsdist config is invalid"

# --- the machines ----------------------------------------------------------
net_setup "$TAG"
net_host "$TAG-web" 2
net_host "$TAG-lb" 3
for n in 1 2 3; do net_host "$TAG-r$n" "1$n"; done
log "namespaces up: $TAG-{hub,web,lb,r1,r2,r3}"

update_node_start
publish_list v1 "v1-listed.example"
lb_start
for n in 1 2 3; do replica_prepare "$n"; done

# --- QPS with 1, 2, 3 replicas ---------------------------------------------
make_queries
declare -A QPS
for n in 1 2 3; do
    replica_start "$n"
    wait_until 20 "dnsdist marks r$n up" is_state "$n" up
    QPS[$n]=$(dnsperf_run "qps-$n" "$LOAD_S" | awk '{ print $2 }')
    ((${QPS[$n]:-0} > 0)) || die "no QPS measured with $n replica(s)"
    log "QPS through dnsdist with $n replica(s): ${QPS[$n]}"
done

failover_check
propagation_check
replay_check
report
