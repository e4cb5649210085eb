# shellcheck shell=bash
# Result table for benches/load/run.sh (sourced, not run). Reads the R
# associative array filled by run.sh: R[server/config/mix/metric].

# ratio A B — A/B with two decimals, "n/a" when B is zero or missing.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0 || a + 0 == 0 || a == "nan" || b == "nan") print "n/a"; else printf "%.2fx", a / b }'
}

# verdict RATIO OP LIMIT [EXTRA] — "yes"/"no" for RATIO OP LIMIT (OP is
# ge or le) and the optional EXTRA condition (0/1).
verdict() {
    awk -v r="${1%x}" -v op="$2" -v l="$3" -v e="${4:-1}" 'BEGIN {
        if (r == "n/a") { print "?"; exit }
        ok = (op == "ge") ? (r + 0 >= l + 0) : (r + 0 <= l + 0)
        print (ok && e) ? "yes" : "no"
    }'
}

# v KEY — R[KEY], or n/a when that measurement was not made.
v() { echo "${R[$1]:-n/a}"; }

mb() { awk -v k="$1" 'BEGIN { if (k == "n/a") print k; else printf "%.0f", k / 1024 }'; }

# per_cpu QPS CPU% — queries answered per second of server CPU time, which
# stays comparable when other work steals the server's CPU.
per_cpu() {
    awk -v q="$1" -v c="$2" 'BEGIN { if (c + 0 == 0) print "n/a"; else printf "%.0f", q / (c / 100) }'
}

# row LABEL PARAPET UNBOUND RATIO TARGET MET
row() { printf '| %s | %s | %s | %s | %s | %s |\n' "$@"; }

print_table() {
    local p u r mix cfg name lost_ok
    echo "| measure | parapet | Unbound | parapet/Unbound | target | met |"
    echo "|---|---:|---:|---:|---|---|"
    for mix in nxdomain/blocked sinkhole/blocked sinkhole/cache sinkhole/real nxdomain/miss; do
        case $mix in
        nxdomain/miss) name="pure misses (every name new)" ;;
        nxdomain/blocked) name="blocked, NXDOMAIN answers" ;;
        sinkhole/blocked) name="blocked, sinkhole answers" ;;
        sinkhole/cache) name="cache hits" ;;
        sinkhole/real) name="realistic mix" ;;
        esac
        p=$(v parapet/$mix/qps) u=$(v unbound/$mix/qps)
        r=$(ratio "$p" "$u")
        case $mix in
        */real) row "$name: max QPS" "$p" "$u" "$r" ">= 1.2x" "$(verdict "$r" ge 1.2)" ;;
        */miss) row "$name: max QPS" "$p" "$u" "$r" ">= 1.0x" "$(verdict "$r" ge 1.0)" ;;
        *) row "$name: max QPS" "$p" "$u" "$r" ">= 1.1x" "$(verdict "$r" ge 1.1)" ;;
        esac
        row "$name: mean / p99 ms at max" \
            "$(v parapet/$mix/mean) / $(v parapet/$mix/p99)" \
            "$(v unbound/$mix/mean) / $(v unbound/$mix/p99)" \
            "$(ratio "$(v parapet/$mix/p99)" "$(v unbound/$mix/p99)") (p99)" "—" "—"
        row "$name: lost / sent at max" \
            "$(v parapet/$mix/lost) / $(v parapet/$mix/sent)" \
            "$(v unbound/$mix/lost) / $(v unbound/$mix/sent)" "—" "—" "—"
        row "$name: server CPU at max" "$(v parapet/$mix/cpu)%" "$(v unbound/$mix/cpu)%" "—" "—" "—"
        row "$name: load generator's CPU (CPU $CLIENT_CPU busy) at max" "$(v parapet/$mix/client)%" "$(v unbound/$mix/client)%" "—" "—" "—"
        p=$(per_cpu "$(v parapet/$mix/qps)" "$(v parapet/$mix/cpu)")
        u=$(per_cpu "$(v unbound/$mix/qps)" "$(v unbound/$mix/cpu)")
        r=$(ratio "$p" "$u")
        case $mix in
        */real) row "$name: queries per server CPU-second" "$p" "$u" "$r" ">= 1.2x" "$(verdict "$r" ge 1.2)" ;;
        *) row "$name: queries per server CPU-second" "$p" "$u" "$r" "—" "—" ;;
        esac
    done
    for cfg in sinkhole/blocked-80 sinkhole/cache-80 sinkhole/real-80 nxdomain/miss-80; do
        case $cfg in
        */blocked-80) name="blocked" ;;
        */cache-80) name="cache hits" ;;
        */real-80) name="realistic mix" ;;
        */miss-80) name="pure misses" ;;
        esac
        r=$(ratio "$(v parapet/$cfg/p99)" "$(v unbound/$cfg/p99)")
        case $(v parapet/$cfg/lost) in 0) lost_ok=yes ;; n/a) lost_ok="?" ;; *) lost_ok=no ;; esac
        row "$name at 80% of own max, ${STEADY} s: QPS" "$(v parapet/$cfg/qps)" "$(v unbound/$cfg/qps)" \
            "$(ratio "$(v parapet/$cfg/qps)" "$(v unbound/$cfg/qps)")" "—" "—"
        row "$name at 80% of own max: p99 ms" "$(v parapet/$cfg/p99)" "$(v unbound/$cfg/p99)" "$r" \
            "<= 1.0x" "$(verdict "$r" le 1.0)"
        row "$name at 80% of own max: lost / sent" \
            "$(v parapet/$cfg/lost) / $(v parapet/$cfg/sent)" \
            "$(v unbound/$cfg/lost) / $(v unbound/$cfg/sent)" "—" "0 lost" \
            "$lost_ok"
    done
    for cfg in nxdomain sinkhole; do
        p=$(v parapet/$cfg/rss_start) u=$(v unbound/$cfg/rss_start)
        r=$(ratio "$p" "$u")
        row "RSS after start-up, $cfg config (MB)" "$(mb "$p")" "$(mb "$u")" "$r" "<= 0.25x and <= 100 MB" \
            "$(verdict "$r" le 0.25 "$(awk -v k="$p" 'BEGIN { print (k != "n/a" && k <= 102400) }')")"
    done
    p=$(v parapet/sinkhole/rss_end) u=$(v unbound/sinkhole/rss_end)
    r=$(ratio "$p" "$u")
    row "RSS after all runs, sinkhole config (MB)" "$(mb "$p")" "$(mb "$u")" "$r" "<= 0.25x and <= 100 MB" \
        "$(verdict "$r" le 0.25 "$(awk -v k="$p" 'BEGIN { print (k != "n/a" && k <= 102400) }')")"
    row "parapet's upstream UDP sockets open after the nxdomain / sinkhole runs" \
        "$(v parapet/nxdomain/sockets) / $(v parapet/sinkhole/sockets)" "—" "—" "bounded (pool of 32, at most 64)" "—"
    for cfg in nxdomain sinkhole; do
        p=$(v parapet/$cfg/startup) u=$(v unbound/$cfg/startup)
        r=$(ratio "$p" "$u")
        row "start-up to first answer, $cfg config (s)" "$p" "$u" "$r" "<= 0.05x" "$(verdict "$r" le 0.05)"
    done
    echo
    echo "Setup: parapet $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo "?") (release build," \
        "\`parapet-blocklist compile\` of the 1,160,474-line maltrail list in ${COMPILE_S} s, ${PBL_MB} MB .pbl;" \
        "rate limit off, \`cache_memory_mb = 256\` (as Unbound's 256 MB message cache), metrics on);" \
        "$(unbound -V | head -1 | sed 's/Version/Unbound/') with the same $LIST_NAMES names (those \`parapet-blocklist check\` blocks:" \
        "the list minus the lines the compiler refuses, such as public suffixes) as one local zone per name" \
        "(\`always_nxdomain\` for the NXDOMAIN rows; \`redirect\` + \`local-data\` A $SINK4 / AAAA $SINK6, TTL $BLOCK_TTL, for the sinkhole rows" \
        "— parapet's default action — and for every later row), 1 thread, 256 MB message and RRset caches, no validation;" \
        "both forward everything else to NSD $(nsd -v 2>&1 | head -1 | awk '{ print $3 }') on 127.0.0.1 serving a root zone of $ZONE_NAMES" \
        "A records (Umbrella top-100k names and www./api./cdn./mail. variants, TTL 1 day)."
    echo "Each server ran alone, pinned to CPU $SERVER_CPU; dnsperf $(dnsperf -h 2>&1 | awk '/^Version/ { print $2 }')" \
        "(\`${DNSPERF_OPTS[*]} -t 2 -v\`, no EDNS) and NSD pinned to CPU $CLIENT_CPU; identical query files for both servers;" \
        "max runs $DURATION s, steady runs ($(echo "-Q") = 80% of that server's own max QPS for the same mix) $STEADY s."
    echo "Mixes: *blocked* = $(wc -l <"$WORK/q-blocked") list names spread over the list" \
        "(every third with www. in front), type A; *cache hits* = $(wc -l <"$WORK/q-cache") non-blocked zone names, type A," \
        "after one unmeasured warm-up pass; *realistic* = $REAL_QUERIES queries: $REAL_BLOCKED_PCT% blocked names," \
        "$REAL_LOOKALIKE_PCT% look-alikes of the default [lookalikes] set ($N_LOOKALIKES typosquats parapet flags; Unbound forwards them, NXDOMAIN at NSD)," \
        "$REAL_NX_PCT% names that exist nowhere (each new: a miss, NXDOMAIN at NSD)," \
        "$((100 - REAL_BLOCKED_PCT - REAL_LOOKALIKE_PCT - REAL_NX_PCT))% zone names drawn with Zipf-like (log-uniform rank) popularity; 85% A / 15% AAAA" \
        "($REAL_DISTINCT distinct names, not warmed separately: its first pass forwards the names the cache-hit mix did not cover);" \
        "*pure misses* = names no one asked before (\`missN.<zone name>\`, NXDOMAIN at NSD), each file sent at most once, on the NXDOMAIN-config server right after its blocked run."
    echo "p99 = 99th percentile of dnsperf -v's per-query latencies (1 µs buckets; lost queries excluded); mean = dnsperf's" \
        "average; server CPU = the server's user+system time over the run (below 100% when the server was waiting for queries or other work on the machine took its CPU; queries per server CPU-second = QPS / server CPU). Start-up = from exec to the first correct answer" \
        "for a blocked name, polled with dig every ~10 ms. RSS = VmRSS from /proc/PID/status."
}

# write_result FILE TABLE — writes one dated run to FILE (a new file in
# benches/results/; BENCHMARKS.md keeps the current summary by hand).
write_result() {
    local file=$1 table=$2
    {
        echo "# $(date -u '+%Y-%m-%d %H:%M UTC'): \`$COMMAND_LINE\`"
        echo
        echo "Commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)."
        echo "Machine: 2 cores ($(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)," \
            "$(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo))."
        echo
        echo "$table"
    } >"$file"
}
