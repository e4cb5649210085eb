# shellcheck shell=bash
# Measurement for benches/chaos/run.sh (sourced, not run): the load classes
# run by dnsperf, the process monitor, the list publisher. Fills R[...]:
# R[PHASE/CLASS/METRIC] and R[PHASE/METRIC].

# summarise — reads `dnsperf -v -S 1` output on stdin, prints one line:
# "sent completed lost noerror nxdomain servfail other p50_ms p99_ms
# max_servfail_ms"; latencies from the per-query lines (0.1 ms buckets), so
# that the per-query lines (about 40 bytes a query) are never stored.
summarise() {
    awk '
        /^> / {
            if ($2 == "T") next
            n++; b = int($5 * 1e4); h[b]++
            if ($2 == "NOERROR") ok++
            else if ($2 == "NXDOMAIN") nx++
            else if ($2 == "SERVFAIL") { sf++; if ($5 > sfmax) sfmax = $5 }
            else other++
            next
        }
        /Queries sent:/ { sent = $3 }
        /Queries completed:/ { completed = $3 }
        /Queries lost:/ { lost = $3 }
        function pct(p,   want, acc, k) {
            if (n == 0) return "n/a"
            want = n * p; acc = 0
            for (k = 0; acc < want; k++) acc += h[k]
            return sprintf("%.1f", (k - 1) / 10)
        }
        END {
            printf "%d %d %d %d %d %d %d %s %s %.0f\n", sent, completed, lost, ok, nx, sf, other,
                pct(0.5), pct(0.99), sfmax * 1000
        }'
}

# class_start PHASE CLASS QFILE SECONDS RATE OUTSTANDING [once] — one
# dnsperf in the background on CLIENT_CPU; its summary goes to
# $WORK/PHASE-CLASS.sum. Appends its PID to CLASS_PIDS. With "once", one
# pass over QFILE (RATE * SECONDS queries) and then a wait for every answer
# up to the 5 s timeout: a time-limited run counts the queries still in
# flight at its end as lost, which for slow forwarded answers is most of
# the last second's.
class_start() {
    local phase=$1 class=$2 qfile=$3 secs=$4 rate=$5 outstanding=$6 limit=(-l "$4")
    [[ ${7:-} == once ]] && limit=(-n 1)
    (
        timeout $((secs + 30)) taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$PORT" -d "$qfile" \
            "${limit[@]}" -Q "$rate" -t 5 -c 2 -q "$outstanding" -v 2>"$WORK/$phase-$class.err" |
            summarise >"$WORK/$phase-$class.sum"
    ) &
    CLASS_PIDS+=($!)
    PIDS+=($!)
}

# class_read PHASE CLASS — the summary into R[PHASE/CLASS/...].
class_read() {
    local k=$1/$2
    read -r "R[$k/sent]" "R[$k/answered]" "R[$k/lost]" "R[$k/noerror]" "R[$k/nxdomain]" \
        "R[$k/servfail]" "R[$k/other]" "R[$k/p50]" "R[$k/p99]" "R[$k/sfmax]" <"$WORK/$1-$2.sum" ||
        die "no dnsperf summary for $1 $2: $(tail -2 "$WORK/$1-$2.err")"
    ((${R[$k/sent]} > 0)) || die "dnsperf sent nothing in $1 $2: $(tail -2 "$WORK/$1-$2.err")"
}

# monitor PID — every second, "PHASE RSS_KB FDS" of PID to $WORK/monitor.
monitor() {
    local pid=$1
    while kill -0 "$pid" 2>/dev/null; do
        echo "$(<"$WORK/phase") $(rss_kb "$pid") $(fd_count "$pid")" >>"$WORK/monitor"
        sleep 1
    done
}

# udp_rcvbuf_errors — datagrams the kernel dropped because a receive
# buffer was full (every UDP socket of this network namespace): lost
# queries that match it were never read by the server, which was too slow,
# not dropped by it.
udp_rcvbuf_errors() {
    awk '$1 == "Udp:" && $2 ~ /^[0-9]+$/ { print $6 }' /proc/net/snmp
}

# sched_ms PID — "RUN WAIT": milliseconds PID's threads ran, and waited
# on a run queue for a CPU (taken by other processes: the server's CPU is
# pinned, not reserved).
sched_ms() {
    cat "/proc/$1"/task/*/schedstat 2>/dev/null | awk '{ r += $1; w += $2 } END { printf "%d %d\n", r / 1e6, w / 1e6 }'
}

# reloads_ok — parapet's count of lists put in service by reloads.
reloads_ok() {
    curl -s -m 2 "http://127.0.0.1:$METRICS_PORT/metrics" |
        awk '/^parapet_reloads_total\{result="ok"\}/ { v = $2 } END { print v + 0 }'
}

# set_state SEQ LIST STATE — what the side client reads (atomic rename).
set_state() {
    echo "$1 $2 $3" >"$WORK/list-state.tmp"
    mv "$WORK/list-state.tmp" "$WORK/list-state"
}

# publisher — recompiles the other list and publishes it by rename, every
# PUBLISH_EVERY s at most, forever; waits (60 s) for each reload to be in
# service before saying which list serves. Logs to $WORK/publishes:
# "PHASE SEQ LIST COMPILE_S RELOAD_S".
publisher() {
    local seq=0 cur=A next ok0 t0 t1 compile_s reload_s child=
    trap 'kill "$child" 2>/dev/null; exit 0' TERM
    set_state 0 A stable
    while :; do
        t0=$EPOCHREALTIME
        if [[ $cur == A ]]; then next=B; else next=A; fi
        # In the background, so that SIGTERM (the trap) stops it at once.
        nice -n 10 taskset -c "$CLIENT_CPU" "$PBL_TOOL" compile -o "$LIST_DIR/.next.pbl" \
            "$WORK/list-$next.txt" >"$WORK/compile-last.out" 2>&1 &
        child=$!
        wait "$child" || die "publisher: compile failed: $(tail -3 "$WORK/compile-last.out")"
        compile_s=$(seconds_since "$t0")
        ok0=$(reloads_ok)
        set_state "$seq" "$cur" moving
        t1=$EPOCHREALTIME
        mv "$LIST_DIR/.next.pbl" "$LIST_DIR/chaos.pbl"
        until (($(reloads_ok) > ok0)); do
            (($(awk -v t="$(seconds_since "$t1")" 'BEGIN { print (t > 60) }'))) &&
                die "publisher: list $next not in service 60 s after its publication"
            sleep 0.05
        done
        reload_s=$(seconds_since "$t1")
        seq=$((seq + 1)) cur=$next
        set_state "$seq" "$cur" stable
        echo "$(<"$WORK/phase") $seq $cur $compile_s $reload_s" >>"$WORK/publishes"
        sleep "$(awk -v t="$(seconds_since "$t0")" -v e="$PUBLISH_EVERY" 'BEGIN { d = e - t; printf "%.2f", (d > 0 ? d : 0) }')"
    done
}
