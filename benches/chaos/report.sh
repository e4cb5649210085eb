# shellcheck shell=bash
# Result tables and target checks of benches/chaos/run.sh (sourced, not
# run). Reads R[...], PHASES, CLASSES and the files the run left in $WORK.

# v KEY — R[KEY], or n/a.
v() { echo "${R[$1]:-n/a}"; }

mb() { awk -v k="$1" 'BEGIN { if (k == "n/a" || k == "") print "n/a"; else printf "%.0f", k / 1024 }'; }

# sum_classes PHASE METRIC CLASS... — the sum of METRIC over CLASSes.
sum_classes() {
    local phase=$1 metric=$2 class total=0
    shift 2
    for class in "$@"; do total=$((total + ${R[$phase/$class/$metric]:-0})); done
    echo "$total"
}

# phase_stats — per phase from the monitor and publisher logs, and the
# side client's counters: R[PHASE/rss_max], fds_max, reloads, checks,
# errors, unjudged, unlisted_failed.
phase_stats() {
    local phase rounds unjudged checks errors listed_lost unlisted
    for phase in "${PHASES[@]}"; do
        read -r "R[$phase/rss_max]" "R[$phase/fds_max]" "R[$phase/fds_min]" < <(awk -v p="$phase" \
            '$1 == p { if ($2 > r) r = $2; if ($3 > f) f = $3; if (m == "" || $3 < m) m = $3 }
             END { print r + 0, f + 0, m + 0 }' "$WORK/monitor")
        R[$phase/reloads]=$(awk -v p="$phase" '$1 == p { n++ } END { print n + 0 }' "$WORK/publishes" 2>/dev/null || echo 0)
        read -r rounds unjudged checks errors listed_lost unlisted < <(awk -v p="$phase" \
            '$1 == p { print $2, $3, $4, $5, $6, $7; f = 1 } END { if (!f) print 0, 0, 0, 0, 0, 0 }' "$WORK/side-counts")
        R[$phase/checks]=$checks R[$phase/errors]=$errors R[$phase/listed_lost]=$listed_lost
        R[$phase/unjudged]=$unjudged R[$phase/unlisted]=$unlisted R[$phase/rounds]=$rounds
    done
}

print_tables() {
    local phase class
    echo "| phase | s | class | sent | answered | lost | SERVFAIL | p50 ms | p99 ms | slowest SERVFAIL ms |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|"
    for phase in "${PHASES[@]}"; do
        for class in "${CLASSES[@]}"; do
            local k=$phase/$class
            printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$phase" "$(v "$phase/secs")" "$class" \
                "$(v "$k/sent")" "$(v "$k/answered")" "$(v "$k/lost")" "$(v "$k/servfail")" \
                "$(v "$k/p50")" "$(v "$k/p99")" "$(v "$k/sfmax")"
        done
    done
    echo
    echo "| phase | server CPU % / waiting for its CPU % | RSS MB end / max | open fds min / end / max | UDP receive-buffer drops (kernel) | reloads | side-client checks | blocking errors | listed names lost | unlisted names not answered | rounds not judged (publish in flight) |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    for phase in "${PHASES[@]}"; do
        printf '| %s | %s / %s | %s / %s | %s / %s / %s | %s | %s | %s | %s | %s | %s | %s / %s |\n' "$phase" \
            "$(v "$phase/cpu")" "$(v "$phase/cpuwait")" "$(mb "$(v "$phase/rss")")" "$(mb "$(v "$phase/rss_max")")" \
            "$(v "$phase/fds_min")" "$(v "$phase/fds")" "$(v "$phase/fds_max")" "$(v "$phase/rcvbuf")" \
            "$(v "$phase/reloads")" "$(v "$phase/checks")" "$(v "$phase/errors")" "$(v "$phase/listed_lost")" \
            "$(v "$phase/unlisted")" "$(v "$phase/unjudged")" "$(v "$phase/rounds")"
    done
}

# target NAME GOT TARGET OK HARD — one row of the targets table; a missed
# HARD target fails the run.
target() {
    local met=yes
    (($4)) || met=no
    printf '| %s | %s | %s | %s |\n' "$1" "$2" "$3" "$met"
    if ((!$4 && $5)); then HARD_MISSES+=("$1"); fi
    if ((!$4)); then MISSES+=("$1"); fi
}

print_targets() {
    local phase lost=0 errors=0 checks=0 reloads=0 worst="" lost_quiet=0 quiet="" unexplained=0
    for phase in "${PHASES[@]}"; do
        local n=$(($(sum_classes "$phase" lost blocked cached) + ${R[$phase/listed_lost]}))
        lost=$((lost + n))
        errors=$((errors + ${R[$phase/errors]})) checks=$((checks + ${R[$phase/checks]}))
        reloads=$((reloads + ${R[$phase/reloads]}))
        ((n == 0)) || worst+="$phase "
        # A phase in which the server waited for its CPU more than
        # MAX_CPU_WAIT% of the time measures the machine, not the server:
        # its losses are reported but do not fail the run.
        if ((${R[$phase/cpuwait]} <= MAX_CPU_WAIT)); then
            lost_quiet=$((lost_quiet + n)) quiet+="$phase "
            # Losses the kernel's receive-buffer drops do not account for
            # were read and not answered: those fail the run.
            local all=$(($(sum_classes "$phase" lost "${CLASSES[@]}") + ${R[$phase/listed_lost]} + ${R[$phase/unlisted]}))
            ((all <= ${R[$phase/rcvbuf]})) || unexplained=$((unexplained + n))
        fi
    done
    local rss_pct fd_growth sf_ms down_lost
    rss_pct=$(awk -v a="${R[warm/rss]}" -v b="${R[end/rss]}" 'BEGIN { printf "%+.1f", (b - a) / a * 100 }')
    # In-flight forwarded queries hold a socket each: the calm phase's
    # fewest open fds is the server's own.
    fd_growth=$((${R[calm/fds_min]} - ${R[warm/fds]}))
    down_lost=${R[upstream-down/fresh/lost]}
    sf_ms=${R[upstream-down/fresh/sfmax]}
    echo "| target | measured | wanted | met |"
    echo "|---|---|---|---|"
    target "blocked and cached queries lost, all phases (dnsperf and side client)" "$lost${worst:+ (in: $worst)}" 0 $((lost == 0)) 0
    local where="no such phase: the machine was too busy to judge"
    [[ -z $quiet ]] || where="phases: $quiet; $unexplained more than the kernel's receive-buffer drops"
    target "... in the phases where the server waited ≤ ${MAX_CPU_WAIT}% for its CPU" \
        "$lost_quiet ($where)" "0 (fails the run: any beyond the kernel's drops)" $((lost_quiet == 0)) 0
    target "... read by a socket but never answered (beyond the kernel's drops, quiet phases)" \
        "$unexplained" 0 $((unexplained == 0)) "$LOSS_FATAL"
    target "blocking errors across reloads" "$errors in $checks checks, $reloads reloads" "0" $((errors == 0 && checks > 0)) 1
    target "server alive at the end" "$ALIVE" yes "$([[ $ALIVE == yes ]] && echo 1 || echo 0)" 1
    target "RSS after the run vs after warm-up" "$(mb "${R[warm/rss]}") → $(mb "${R[end/rss]}") MB ($rss_pct%)" "within ±10%" \
        "$(awk -v p="$rss_pct" 'BEGIN { print (p <= 10 && p >= -10) }')" 0
    target "RSS through the calm phase (a leak grows it)" \
        "$(mb "${R[garbage/rss]}") → $(mb "${R[calm/rss]}") MB in ${R[calm/secs]} s" "no growth beyond 2%" \
        "$(awk -v a="${R[garbage/rss]}" -v b="${R[calm/rss]}" 'BEGIN { print (b <= a * 1.02) }')" 0
    target "open fds after the run vs after warm-up" "${R[warm/fds]} → ${R[calm/fds_min]} (fewest in the calm phase; ${R[end/fds]} at its end)" \
        "no growth" $((fd_growth <= 0)) 0
    target "forwarded queries while the upstream is down" \
        "${R[upstream-down/fresh/servfail]} SERVFAIL (slowest ${sf_ms} ms), $down_lost lost" \
        "all SERVFAIL within ${UPSTREAM_TIMEOUT_MS} ms, 0 lost" \
        $((down_lost == 0 && ${R[upstream-down/fresh/servfail]} > 0 && sf_ms <= UPSTREAM_TIMEOUT_MS + 250)) 0
    target "recovery after the upstream returns" "first new name answered after ${R[recovery_s]} s; QPS $(v recovery/qps) vs $(v steady/qps) before" \
        "≤ 5 s" "$(awk -v r="${R[recovery_s]}" 'BEGIN { print (r != "n/a" && r <= 5) }')" 0
}

# write_result FILE TABLES — the dated results file.
write_result() {
    {
        echo "# Chaos run, $(date -u '+%Y-%m-%d %H:%M UTC')"
        echo
        echo "Command: \`$COMMAND_LINE\` (commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown))."
        echo "Machine: $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), $(awk '/MemTotal/ { printf "%.0f GB", $2 / 1048576 }' /proc/meminfo);"
        echo "parapet ($PROFILE build) pinned to CPU $SERVER_CPU; dnsperf, NSD, the relay, the side client,"
        echo "the publisher's compiles (nice 10) and the hostile client on CPU $CLIENT_CPU."
        echo "Load average at the start: $LOADAVG_START (other work on the machine shares its CPUs)."
        echo "List: $LIST_NAMES_N names ($PBL_MB MB artifact), alternating with a copy that differs by $((N_ONLY * 2)) names;"
        echo "maximum measured ${R[max_qps]} QPS (the same mix), load held at $LOAD_PCT%: $RATE QPS"
        echo "(cached ${RATE_CACHED}, blocked ${RATE_BLOCKED}, fresh forwarded names ${RATE_FRESH})."
        echo "Upstream timeout ${UPSTREAM_TIMEOUT_MS} ms; dnsperf timeout 5 s (no answer within it = lost)."
        echo
        echo "$1"
    } >"$2"
}
