# shellcheck shell=bash
# Helpers shared by the bench scripts (benches/load, benches/cluster,
# benches/chaos, benches/conformance; sourced, not run): the watchdog that
# bounds a run, pinned background processes, DNS probes with deadlines,
# process gauges, the NSD upstream and a forwarding Unbound. The caller
# defines log() and die(), and WORK and PIDS where a helper says so.

# script_help FILE — print a script's header comment (its --help text).
script_help() {
    sed -n '2,/^set -euo/p' "$1" | sed '$d; s/^# \{0,1\}//'
}

# bad_arg ARG — the usage error for an unknown argument; exits 2.
bad_arg() {
    echo "run.sh: unknown argument '$1' (try --help)" >&2
    exit 2
}

# stop_pids PID... — SIGTERM each, then wait for each (for an EXIT trap).
stop_pids() {
    local pid
    for pid; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid; do wait "$pid" 2>/dev/null || true; done
}

# end_work RC LOG... — after a failed run (RC not 0), the last lines of
# each LOG; then keep $WORK (KEEP=1) or remove it.
end_work() {
    local rc=$1
    shift
    if ((rc != 0 && $# > 0)); then
        log "last lines of the logs:"
        tail -n 5 "$@" >&2 2>/dev/null || true
    fi
    if ((KEEP)); then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}

# start_watchdog SECONDS SCRIPT — bound the whole run: after SECONDS the
# watchdog signals this script, whose EXIT trap stops everything it started
# (including the watchdog's own sleep). Appends the watchdog to PIDS.
start_watchdog() {
    local secs=$1 script=$2
    (
        trap 'kill "$sleep_pid" 2>/dev/null; exit 0' TERM
        sleep "$secs" &
        sleep_pid=$!
        wait "$sleep_pid"
        echo "$script: watchdog: run took longer than ${secs}s" >&2
        kill -TERM $$
    ) >/dev/null 2>&1 &
    PIDS+=($!)
}

# start_bg NAME CPU CMD... — start CMD pinned to CPU, output to
# $WORK/NAME.out; sets BG_PID and appends it to PIDS.
start_bg() {
    local name=$1 cpu=$2
    shift 2
    taskset -c "$cpu" "$@" >"$WORK/$name.out" 2>&1 &
    BG_PID=$!
    PIDS+=("$BG_PID")
}

# stop_bg PID — SIGTERM, then SIGKILL after 10 s.
stop_bg() {
    local pid=$1 i
    kill -TERM "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# probe PORT NAME TYPE — one dig query; prints "STATUS ANSWER..." or nothing.
probe() {
    dig @127.0.0.1 -p "$1" +tries=1 +time=1 +noall +comments +answer "$2" "$3" 2>/dev/null |
        awk '/status:/ { s = $6; sub(",", "", s) } !/^;/ && NF >= 5 { a = a " " $NF } END { if (s != "") print s a }' ||
        true
}

# seconds_since START — seconds (3 decimals) from START ($EPOCHREALTIME) to now.
seconds_since() {
    awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'
}

# wait_answer PORT NAME TYPE EXPECT DEADLINE_S PID — poll until the answer
# starts with EXPECT; dies if PID exits or the deadline passes.
wait_answer() {
    local port=$1 name=$2 type=$3 expect=$4 deadline=$5 pid=$6 start=$EPOCHREALTIME got
    while :; do
        got=$(probe "$port" "$name" "$type")
        [[ $got == "$expect"* ]] && return 0
        kill -0 "$pid" 2>/dev/null || die "server (pid $pid) exited; see its output in $WORK (use --keep)"
        if (($(awk -v t="$(seconds_since "$start")" -v d="$deadline" 'BEGIN { print (t > d) }'))); then
            die "no '$expect' answer for $name $type on port $port within ${deadline}s (last: '$got')"
        fi
        sleep 0.01
    done
}

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"; }
fd_count() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l; }

# nsd_conf CONF PORT ZONEDIR ZONEFILE [ZONE] — an NSD configuration serving
# ZONE (default the root zone ".") from ZONEDIR/ZONEFILE on 127.0.0.1:PORT, every state file
# under ZONEDIR. Response rate limiting off: NSD's default (200 answers a
# second per /24 and answer class) lumps every NODATA answer of the zone
# into one bucket, so a load run's AAAA misses were dropped or truncated
# and waited for the forwarder's retransmission: a run measured NSD's rate
# limit, not the server under test.
nsd_conf() {
    local conf=$1 port=$2 dir=$3 zone=$4 origin=${5:-.}
    cat >"$conf" <<EOF
server:
  ip-address: 127.0.0.1@$port
  server-count: 1
  username: ""
  chroot: ""
  zonesdir: "$dir"
  database: ""
  zonelistfile: "$dir/nsd-zone.list"
  xfrdfile: "$dir/nsd-xfrd.state"
  pidfile: "$dir/nsd.pid"
  logfile: "$dir/nsd.log"
  verbosity: 1
  rrl-ratelimit: 0
remote-control:
  control-enable: no
zone:
  name: "$origin"
  zonefile: "$zone"
EOF
    nsd-checkconf "$conf" || die "$conf invalid"
}

# unbound_conf CONF PORT DIR UP_PORT [SERVER_LINE...] — an Unbound
# configuration: one thread on 127.0.0.1:PORT, no validation, no qname
# minimisation, everything forwarded to 127.0.0.1:UP_PORT, state files
# under DIR, its log at CONF.log; each SERVER_LINE (e.g. a cache size) is
# added to the `server:` clause.
unbound_conf() {
    local conf=$1 port=$2 dir=$3 up=$4 line
    shift 4
    {
        cat <<EOF
server:
  verbosity: 0
  interface: 127.0.0.1@$port
  port: $port
  do-ip6: no
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "$dir"
  pidfile: "$conf.pid"
  use-syslog: no
  logfile: "$conf.log"
  num-threads: 1
  module-config: "iterator"
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  qname-minimisation: no
EOF
        for line in "$@"; do printf '  %s\n' "$line"; done
        cat <<EOF
forward-zone:
  name: "."
  forward-addr: 127.0.0.1@$up
remote-control:
  control-enable: no
EOF
    } >"$conf"
}

# nsd_start CONF CPU PORT NAME — start NSD on CPU and wait (60 s) until it
# answers NAME A with NOERROR; sets NSD_PID.
nsd_start() {
    local conf=$1 cpu=$2 port=$3 name=$4
    start_bg nsd "$cpu" nsd -d -c "$conf"
    NSD_PID=$BG_PID
    wait_answer "$port" "$name" A "NOERROR" 60 "$NSD_PID"
}
