# shellcheck shell=bash
# The machines and the checks of benches/cluster/run.sh (sourced by it; uses
# its WORK, TAG, PBL, PARAPET, bg, wait_until, answers, is_state, die, log).

# --- update node -----------------------------------------------------------

# update_node_start — minisign key, HTTP server for the artifact, and a stub
# upstream (dnsdist answering every A with 192.0.2.1, AAAA with 2001:db8::1).
update_node_start() {
    minisign -G -W -p "$WORK/key.pub" -s "$WORK/key.sec" </dev/null >/dev/null
    mkdir -p "$WORK/www"
    bg "$TAG-web" http python3 -m http.server --bind "$WEB" --directory "$WORK/www" 8000
    PIDS+=("$BG_PID")
    cat >"$WORK/upstream.lua" <<EOF
setLocal("$WEB:53")
setACL({"$NET_PREFIX.0/24"})
setSecurityPollSuffix("")
addAction(QTypeRule(DNSQType.A), SpoofAction("192.0.2.1"))
addAction(QTypeRule(DNSQType.AAAA), SpoofAction("2001:db8::1"))
addAction(AllRule(), RCodeAction(DNSRCode.NOERROR))
EOF
    bg "$TAG-web" upstream dnsdist --supervised --disable-syslog -C "$WORK/upstream.lua"
    PIDS+=("$BG_PID")
    wait_until 20 "stub upstream answers" answers "$TAG-web" "$WEB" probe.example 192.0.2.1
    wait_until 20 "update node serves HTTP" in_ns "$TAG-web" curl -sf -m 2 "http://$WEB:8000/"
}

# publish_list VERSION NAME... — stage_list, then serve it.
publish_list() {
    stage_list "$@"
    serve_stage "$1"
    log "published list $1"
}

# stage_list VERSION NAME... — compile a list (50,000 synthetic names plus
# NAMEs) and sign it as minisign does by default (timestamp now, file
# parapet.pbl), in $WORK/stage-VERSION.
stage_list() {
    local version=$1 stage=$WORK/stage-$1
    shift
    mkdir -p "$stage"
    {
        seq 1 50000 | awk '{ printf "0.0.0.0 bad%d.example\n", $1 }'
        printf '0.0.0.0 %s\n' "$@"
    } >"$stage/list.txt"
    "$PBL" compile --category phishing -o "$stage/parapet.pbl" "hosts:$stage/list.txt" 2>/dev/null ||
        die "compile $version"
    minisign -S -s "$WORK/key.sec" -m "$stage/parapet.pbl" </dev/null >/dev/null
}

# serve_stage VERSION — serve that version's artifact and signature, each
# installed by rename.
# The web server's Last-Modified has whole seconds: two stages published
# within one second would look unchanged (304) to a replica that fetched
# the first. Each stage gets a modification time a second past the last.
LAST_STAGE_MTIME=0
serve_stage() {
    local stage=$WORK/stage-$1 f now
    now=$(date +%s)
    ((LAST_STAGE_MTIME = now > LAST_STAGE_MTIME ? now : LAST_STAGE_MTIME + 1))
    for f in parapet.pbl parapet.pbl.minisig; do
        cp "$stage/$f" "$WORK/www/.$f.tmp"
        touch -d "@$LAST_STAGE_MTIME" "$WORK/www/.$f.tmp"
        mv "$WORK/www/.$f.tmp" "$WORK/www/$f"
    done
}

# --- dnsdist in front --------------------------------------------------------

lb_start() {
    local n
    {
        echo "setLocal(\"$LB:53\")"
        echo "setACL({\"$NET_PREFIX.0/24\", \"127.0.0.0/8\"})"
        echo 'setSecurityPollSuffix("")'
        echo 'webserver("127.0.0.1:8083")'
        echo "setWebserverConfig({apiKey=\"$API_KEY\", password=\"$API_KEY\", acl=\"127.0.0.0/8\"})"
        for n in 1 2 3; do
            echo "newServer({address=\"$NET_PREFIX.1$n:53\", name=\"r$n\", checkName=\"health.parapet.test.\", checkType=\"A\", mustResolve=true, checkInterval=1, checkTimeout=500, maxCheckFailures=1, rise=1})"
        done
        echo 'setServerPolicy(leastOutstanding)'
    } >"$WORK/dnsdist.lua"
    bg "$TAG-lb" dnsdist dnsdist --supervised --disable-syslog -C "$WORK/dnsdist.lua"
    PIDS+=("$BG_PID")
    wait_until 20 "dnsdist API answers" backend_state 1
}

# --- replicas ----------------------------------------------------------------

# replica_prepare N — config, first fetch, then the fetch loop.
replica_prepare() {
    local n=$1 dir=$WORK/r$1 addr=$NET_PREFIX.1$1
    mkdir -p "$dir"
    cat >"$dir/parapet.toml" <<EOF
[server]
listen = ["$addr:53"]
[upstream]
servers = ["$WEB:53"]
[blocklist]
path = "$dir/parapet.pbl"
[block]
action = "sinkhole"
sinkhole_ipv4 = "$SINK"
[access]
allow = ["$NET_PREFIX.0/24"]
rate_limit_qps = 0
[metrics]
listen = "127.0.0.1:9153"
[warning_page]
listen = ["127.0.0.1:8080"]
EOF
    local fetch=("$PBL" fetch --url "http://$WEB:8000/parapet.pbl" --minisign-key-file "$WORK/key.pub"
        --artifact "$dir/parapet.pbl" --timeout-secs 5)
    in_ns "$TAG-r$n" "${fetch[@]}" >/dev/null || die "replica $n: first fetch"
    bg "$TAG-r$n" "fetch-r$n" bash -c "while :; do $(printf '%q ' "${fetch[@]}"); sleep $FETCH_INTERVAL; done"
    PIDS+=("$BG_PID")
}

# replica_start N — start parapet N and wait until it answers.
replica_start() {
    local n=$1
    bg "$TAG-r$n" "parapet-r$n" "$PARAPET" --config "$WORK/r$n/parapet.toml"
    REPLICA_PID[$n]=$BG_PID
    wait_until 30 "replica $n answers" answers "$TAG-r$n" "$NET_PREFIX.1$n" v1-listed.example "$SINK"
}

# --- load --------------------------------------------------------------------

# make_queries — 20,000 names, one in ten listed.
make_queries() {
    seq 1 20000 | awk '{ if ($1 % 10 == 0) printf "bad%d.example A\n", $1; else printf "q%d.example.net A\n", $1 }' \
        >"$WORK/queries.txt"
}

# dnsperf_run LABEL SECS [QPS] — dnsperf through dnsdist; prints "LOST QPS SENT".
dnsperf_run() {
    local out=$WORK/dnsperf-$1.out extra=()
    [[ -n ${3:-} ]] && extra=(-Q "$3")
    in_ns "$TAG-lb" timeout $(($2 + 30)) dnsperf -s "$LB" -d "$WORK/queries.txt" -l "$2" \
        -c 4 -q 100 -t 1 "${extra[@]}" >"$out" 2>&1 || die "dnsperf $1 (see $out)"
    awk '/Queries sent:/ { s = $3 } /Queries lost:/ { l = $3 } /Queries per second:/ { q = $4 }
        END { printf "%d %.0f %d\n", l, q, s }' "$out"
}

# --- checks --------------------------------------------------------------------

# failover_check — kill a replica under a steady load: the one dnsdist
# has sent most of this run's queries (its policy, leastOutstanding, may
# leave another idle at a low rate).
FO_BASE=()
# run_share N — queries replica N has had since failover_check began.
run_share() { echo $(($(backend_field "$1" queries) - FO_BASE[$1])); }
# run_reached COUNT — the replicas have had COUNT of this run's queries.
run_reached() { (($(run_share 1) + $(run_share 2) + $(run_share 3) >= $1)); }
failover_check() {
    local t_kill t_down n victim=1
    for n in 1 2 3; do FO_BASE[n]=$(backend_field "$n" queries); done
    dnsperf_run failover-window $((LOAD_S + 6)) "$FAILOVER_QPS" >"$WORK/window.txt" &
    local load=$!
    wait_until 10 "load reaches the replicas" run_reached 500
    for n in 2 3; do (($(run_share "$n") > $(run_share "$victim"))) && victim=$n; done
    t_kill=$(now)
    kill -KILL "${REPLICA_PID[$victim]}"
    wait "${REPLICA_PID[$victim]}" 2>/dev/null || true
    wait_until 20 "dnsdist marks r$victim down" is_state "$victim" down
    t_down=$(now)
    DETECTION_S=$(elapsed "$t_kill" "$t_down")
    wait "$load" || die "failover load run"
    read -r LOST_IN_WINDOW _ WINDOW_SENT <"$WORK/window.txt"
    read -r LOST_AFTER _ AFTER_SENT < <(dnsperf_run failover-after "$LOAD_S" "$FAILOVER_QPS")
    log "replica $victim killed: marked down after ${DETECTION_S}s; lost $LOST_IN_WINDOW of $WINDOW_SENT in the run with the kill, $LOST_AFTER of $AFTER_SENT after"
    replica_start "$victim"
    wait_until 20 "dnsdist marks r$victim up again" is_state "$victim" up
}

# propagation_check — a new list reaches every replica within the interval
# (timed from the moment the update node serves it).
propagation_check() {
    local fresh=fresh-$$.example t0 n limit=$((FETCH_INTERVAL + 5))
    answers "$TAG-lb" "$LB" "$fresh" 192.0.2.1 || die "$fresh is blocked before it is listed"
    stage_list v2 v1-listed.example "$fresh"
    t0=$(now)
    serve_stage v2
    for n in 1 2 3; do
        wait_until "$limit" "replica $n serves list v2" answers "$TAG-r$n" "$NET_PREFIX.1$n" "$fresh" "$SINK"
    done
    PROPAGATION_S=$(elapsed "$t0" "$(now)")
    answers "$TAG-lb" "$LB" "$fresh" "$SINK" || die "side client: $fresh not blocked through dnsdist"
    FRESH=$fresh
    log "list v2 served by every replica after ${PROPAGATION_S}s; side client sees $fresh blocked through dnsdist"
}

# refusals N — replay refusals in replica N's fetch log so far.
refusals() { grep -c "older than the copy in use" "$WORK/fetch-r$1.log" || true; }
# refused_since N COUNT — replica N refused a replay more than COUNT times.
refused_since() { (($(refusals "$1") > $2)); }

# replay_check — the older signed artifact is served again; every replica
# refuses it and keeps list v2.
replay_check() {
    local n
    declare -A before
    for n in 1 2 3; do before[$n]=$(refusals "$n"); done
    serve_stage v1
    REPLAY_REFUSED=yes
    for n in 1 2 3; do
        wait_until $((FETCH_INTERVAL + 10)) "replica $n refuses the replay" \
            refused_since "$n" "${before[$n]}"
        answers "$TAG-r$n" "$NET_PREFIX.1$n" "$FRESH" "$SINK" || REPLAY_REFUSED=no
    done
    [[ $REPLAY_REFUSED == yes ]] || die "a replica went back to list v1"
    log "replayed list v1 refused by every replica; list v2 stays in service"
}

# report — the table (to BENCHMARKS.md unless --no-append) and the last line.
report() {
    local table
    table=$(
        cat <<EOF
| what | value |
|---|---|
| QPS through dnsdist, 1 / 2 / 3 replicas ($PROFILE build) | ${QPS[1]} / ${QPS[2]} / ${QPS[3]} |
| replica killed at $FAILOVER_QPS QPS: time until dnsdist marks it down | ${DETECTION_S} s |
| queries lost in the run with the kill ($((LOAD_S + 6)) s) / after marked down | $LOST_IN_WINDOW of $WINDOW_SENT / **$LOST_AFTER** of $AFTER_SENT |
| new list served by all 3 replicas (fetch every ${FETCH_INTERVAL} s) | ${PROPAGATION_S} s |
| replayed older signed list refused by every replica | $REPLAY_REFUSED |
EOF
    )
    echo "$table"
    if ((APPEND)); then
        local run="$(date -u +%F), $PROFILE build, ${LOAD_S} s load runs"
        ((QUICK)) && run+=" (--quick)"
        python3 - "$ROOT/BENCHMARKS.md" "$run" "$table" <<'EOF'
import re, sys
path, run, table = sys.argv[1:]
text = open(path).read()
block = f"<!-- cluster:begin -->\nLast run: {run}.\n\n{table}\n<!-- cluster:end -->"
text = re.sub(r"<!-- cluster:begin -->.*?<!-- cluster:end -->", lambda m: block, text, flags=re.S)
open(path, "w").write(text)
EOF
    fi
    ((LOST_AFTER == 0)) || die "$LOST_AFTER queries lost after dnsdist marked the replica down"
    echo "cluster: replicas=3 lost_after_detection=$LOST_AFTER lost_in_window=$LOST_IN_WINDOW" \
        "detection_s=$DETECTION_S propagation_s=$PROPAGATION_S replay_refused=$REPLAY_REFUSED" \
        "qps_1=${QPS[1]} qps_2=${QPS[2]} qps_3=${QPS[3]}"
}
