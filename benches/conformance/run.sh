#!/usr/bin/env bash
# Protocol conformance, parapet side by side with Unbound: the RFC 8906
# ("a resolver always responds") and RFC 6891 (EDNS) cases, plus DNS
# cookies (RFC 7873), opcodes, QDCOUNT, and TC with the TCP retry.
#
# Starts an authoritative upstream (NSD, a small zone), then parapet (debug
# build) and Unbound, both forwarding to it, all on 127.0.0.1; sends every
# case to both with dig (and one hand-made packet for QDCOUNT=2); prints a
# markdown table: case, what the RFCs ask, what each server answered, and
# whether the answer meets the RFCs. Exits 1 if parapet misses any case
# (so it can run in CI), 0 otherwise. Every process it starts is stopped.
# Takes a few seconds once parapet is built.
#
# Usage: benches/conformance/run.sh [--no-build] [--keep] [--install]
#   --no-build  use the existing target/debug/parapet
#   --keep      keep the work directory (configs, dig outputs)
#   --install   apt-get install the Debian packages it needs
# Environment: CONF_PORT (15453: parapet; +1 Unbound; +2 upstream; +3, +4
#   parapet's metrics and warning page), CARGO_TARGET_DIR.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=benches/lib.sh
source "$HERE/../lib.sh"
BUILD=1 KEEP=0 INSTALL=0
while (($#)); do
    case $1 in
    --no-build) BUILD=0 ;;
    --keep) KEEP=1 ;;
    --install) INSTALL=1 ;;
    -h | --help)
        script_help "${BASH_SOURCE[0]}"
        exit 0
        ;;
    *) bad_arg "$1" ;;
    esac
    shift
done

PORT=${CONF_PORT:-15453}
UNBOUND_PORT=$((PORT + 1)) UP_PORT=$((PORT + 2))
PARAPET=${CARGO_TARGET_DIR:-$ROOT/target}/debug/parapet

log() { printf '[%(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
    log "error: $*"
    exit 1
}

# tool:Debian package
TOOLS=(unbound:unbound nsd:nsd dig:bind9-dnsutils python3:python3-minimal timeout:coreutils)
missing=()
for t in "${TOOLS[@]}"; do
    command -v "${t%%:*}" >/dev/null 2>&1 || missing+=("${t#*:}")
done
if ((${#missing[@]})); then
    ((INSTALL)) || die "missing tools; apt-get install -y ${missing[*]} (or pass --install)"
    apt-get install -y "${missing[@]}" >&2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/parapet-conformance.XXXXXX")
PIDS=()
cleanup() {
    local rc=$? pid
    trap - EXIT INT TERM
    for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    if ((KEEP)); then log "work directory kept: $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if ((BUILD)); then
    log "building parapet (debug)"
    (cd "$ROOT" && cargo build -q -p parapet-resolver --bin parapet >&2)
fi
[[ -x $PARAPET ]] || die "$PARAPET not found (drop --no-build)"

# --- the upstream: example. with a ~900-byte TXT set (over 512) ----------
{
    # shellcheck disable=SC2016 # zone-file directives, not shell
    printf '%s\n' '$ORIGIN example.' '$TTL 3600'
    echo '@ SOA ns hostmaster 1 3600 600 86400 3600'
    echo '@ NS ns'
    echo 'ns A 127.0.0.1'
    echo 'www A 192.0.2.10'
    for i in 0 1 2 3 4 5 6 7 8 9; do
        printf 'big TXT "%02d %s"\n' "$i" "$(printf 'x%.0s' {1..70})"
    done
} >"$WORK/example.zone"
nsd_conf "$WORK/nsd.conf" "$UP_PORT" "$WORK" example.zone example.
unbound_conf "$WORK/unbound.conf" "$UNBOUND_PORT" "$WORK" "$UP_PORT"
echo "blocked.example" >"$WORK/list.txt"
cat >"$WORK/parapet.toml" <<EOF
[server]
listen = ["127.0.0.1:$PORT"]
[upstream]
servers = ["127.0.0.1:$UP_PORT"]
[blocklist]
sources = ["domains:$WORK/list.txt"]
[access]
allow = ["127.0.0.0/8"]
rate_limit_qps = 0
[metrics]
listen = "127.0.0.1:$((PORT + 3))"
[warning_page]
listen = ["127.0.0.1:$((PORT + 4))"]
EOF

# Unpinned: every CPU.
CPUS=0-$(($(nproc) - 1))
nsd_start "$WORK/nsd.conf" "$CPUS" "$UP_PORT" www.example
start_bg unbound "$CPUS" unbound -d -c "$WORK/unbound.conf"
UNBOUND_PID=$BG_PID
start_bg parapet "$CPUS" "$PARAPET" --config "$WORK/parapet.toml"
wait_answer "$UNBOUND_PORT" www.example A NOERROR 10 "$UNBOUND_PID"
wait_answer "$PORT" www.example A NOERROR 10 "$BG_PID"

# --- summarising an answer -----------------------------------------------
# summary FILE — one line from dig's output: RCODE, then tokens: tc, do,
# noedns|edns=V, mbz (unknown EDNS flags echoed), opt=N (unknown option
# echoed), cookie (server cookie), an=N, bytes=N, trailing (dig warns of
# extra bytes or a malformed message); TIMEOUT when nothing came back.
summary() {
    awk '
        /status:/ { s = $6; sub(",", "", s) }
        /^;; flags:/ { f = $0; sub(/;; flags:/, "", f); sub(/;.*/, "", f); if (f ~ / tc/) tc = " tc"
                       a = $0; sub(/.*ANSWER: /, "", a); sub(/,.*/, "", a); an = a }
        /^; EDNS: version:/ { v = $4; sub(",", "", v); e = " edns=" v
                              if ($0 ~ /flags:.* do/) d = " do"
                              if ($0 ~ /MBZ/) m = " mbz" }
        /^; OPT=/ { o = o " opt=" substr($2, 5) ; sub(":", "", o) }
        /^; COOKIE:/ { c = " cookie" }
        /MSG SIZE/ { b = " bytes=" $NF }
        /extra bytes|malformed/ { t = " trailing" }
        END {
            if (s == "") { print "TIMEOUT"; exit }
            if (e == "") e = " noedns"
            print s tc d e m o c " an=" an b t
        }' "$1"
}

# raw_summary PORT HEX — send one hand-made UDP packet; "RCODE an=N" or TIMEOUT.
raw_summary() {
    python3 - "$1" "$2" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(bytes.fromhex(sys.argv[2]), ("127.0.0.1", int(sys.argv[1])))
try:
    r = s.recv(65535)
except socket.timeout:
    print("TIMEOUT"); sys.exit()
names = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
print(f"{names.get(r[3] & 15, r[3] & 15)} an={int.from_bytes(r[6:8], 'big')}")
EOF
}

# The cases, fields split by %: name, what the RFCs ask (shown), a regex
# the summary must match, one it must not match, dig arguments (or raw:HEX).
www="www.example A"
big="big.example TXT"
# Header: ID 0x0102, RD; QDCOUNT 2: www.example A IN twice.
q2=01020100000200000000000003777777076578616d706c650000010001c00c00010001
CASES=(
    "plain query, no EDNS%NOERROR, answer, no OPT%^NOERROR .*noedns.*an=1%%+noedns $www"
    "EDNS 0%NOERROR, OPT version 0%^NOERROR .*edns=0.*an=1%%+edns=0 +nocookie $www"
    "EDNS version 1%BADVERS, OPT version 0 (6891 §6.1.3)%^BADVERS .*edns=0%%+edns=1 +noednsneg +nocookie $www"
    "EDNS 1 + unknown option%BADVERS%^BADVERS .*edns=0%%+edns=1 +noednsneg +nocookie +ednsopt=100 $www"
    "unknown EDNS flag%NOERROR, flag not echoed (6891 §6.1.4)%^NOERROR .*edns=0% mbz%+edns=0 +nocookie +ednsflags=0x40 $www"
    "unknown EDNS option%NOERROR, option not echoed (6891 §6.1.2)%^NOERROR .*edns=0% opt=100%+edns=0 +nocookie +ednsopt=100 $www"
    "DO bit%NOERROR, DO echoed (3225)%^NOERROR do edns=0%%+dnssec +nocookie $www"
    "EDNS over TCP%NOERROR%^NOERROR .*edns=0.*an=1%%+tcp +nocookie $www"
    "Z bit in header%NOERROR (Z ignored)%^NOERROR .*an=1%%+zflag +nocookie $www"
    "DNS cookie (client only)%NOERROR; a server cookie, or the option ignored (7873 §5.2)%^NOERROR .*an=1%%+cookie $www"
    "malformed cookie (5 bytes)%FORMERR, or ignored (7873 §5.2.2)%^(FORMERR|NOERROR)%%+nocookie +ednsopt=10:0102030405 $www"
    "unknown type (TYPE65000)%NOERROR%^NOERROR%%+nocookie www.example TYPE65000"
    "class CH%an answer (REFUSED, NOTIMP, …)%^[A-Z]%%+nocookie version.bind CH TXT"
    "opcode IQUERY (1)%NOTIMP (8906 §3.1.4)%^NOTIMP%%+opcode=1 +nocookie $www"
    "opcode STATUS (2)%NOTIMP%^NOTIMP%%+opcode=2 +nocookie $www"
    "opcode 3 (unassigned)%NOTIMP%^NOTIMP%%+opcode=3 +nocookie $www"
    "opcode NOTIFY (4)%REFUSED or NOTIMP%^(NOTIMP|REFUSED)%%+opcode=4 +nocookie $www"
    "opcode UPDATE (5)%NOTIMP%^NOTIMP%%+opcode=5 +nocookie $www"
    "opcode 15 (unassigned)%NOTIMP%^NOTIMP%%+opcode=15 +nocookie $www"
    "QDCOUNT 0%FORMERR%^FORMERR%%+header-only +nocookie"
    "QDCOUNT 2%FORMERR%^FORMERR%%raw:$q2"
    "large answer, no EDNS%TC, ≤ 512 bytes, ends on a record boundary%^NOERROR tc noedns.*% trailing%+noedns +ignore $big"
    "large answer, EDNS 512%TC, ≤ 512 bytes, OPT kept%^NOERROR tc edns=0% trailing%+bufsize=512 +nocookie +ignore $big"
    "TC, then TCP retry%the whole answer over TCP%^NOERROR noedns an=10%%+noedns $big"
)

ask() { # ask PORT ARGS — the summary of one exchange
    local port=$1 args=$2 out
    if [[ $args == raw:* ]]; then
        raw_summary "$port" "${args#raw:}"
        return
    fi
    out=$WORK/dig.$RANDOM.out
    # shellcheck disable=SC2086 # ARGS is a word list
    dig @127.0.0.1 -p "$port" +tries=1 +time=2 $args >"$out" 2>&1 || true
    # dig prints the answer even when it warns; keep the warnings for summary.
    summary "$out"
}

bytes_ok() { # bytes_ok SUMMARY LIMIT — no bytes= token, or bytes ≤ LIMIT
    local b
    b=$(grep -o 'bytes=[0-9]*' <<<"$1" | cut -d= -f2)
    [[ -z $b ]] || ((b <= $2))
}

verdict() { # verdict SUMMARY MUST MUSTNOT NAME — ok or FAIL
    local s=$1 must=$2 mustnot=$3 name=$4
    if [[ $s =~ $must ]] && { [[ -z $mustnot ]] || ! [[ $s =~ $mustnot ]]; }; then
        if [[ $name == "large answer"* ]] && ! bytes_ok "$s" 512; then
            echo FAIL
        else
            echo ok
        fi
    else
        echo FAIL
    fi
}

echo "| case | RFCs ask | parapet | | Unbound $(unbound -V | awk 'NR == 1 { print $2 }') | |"
echo "|---|---|---|---|---|---|"
fails=0 unbound_fails=0 timeouts=0
for c in "${CASES[@]}"; do
    IFS='%' read -r name want must mustnot args <<<"$c"
    p=$(ask "$PORT" "$args")
    u=$(ask "$UNBOUND_PORT" "$args")
    pv=$(verdict "$p" "$must" "$mustnot" "$name")
    uv=$(verdict "$u" "$must" "$mustnot" "$name")
    [[ $pv == ok ]] || fails=$((fails + 1))
    [[ $uv == ok ]] || unbound_fails=$((unbound_fails + 1))
    [[ $p != TIMEOUT ]] || timeouts=$((timeouts + 1))
    echo "| $name | $want | \`$p\` | $pv | \`$u\` | $uv |"
done
echo
echo "parapet: $((${#CASES[@]} - fails))/${#CASES[@]} cases meet the RFCs, $timeouts unanswered;" \
    "Unbound: $((${#CASES[@]} - unbound_fails))/${#CASES[@]}."
kill -0 "${PIDS[2]}" 2>/dev/null || die "parapet exited during the run (see $WORK/parapet.out)"
((fails == 0))
