#!/usr/bin/env bash
# Build the seed corpora of the fuzz targets under fuzz/corpus/TARGET/ from
# real data: slices of the shared lists ($PARAPET_DATA), the shipped
# configs, artifacts compiled from list slices, and DNS queries and answers
# for names from those lists (made by python3, byte for byte). Idempotent;
# the fuzzer adds its own finds to the same folders.
#
# Usage: fuzz/seeds.sh      (needs python3 and a debug parapet-blocklist,
#                            built here if missing)
set -euo pipefail

FUZZ=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$FUZZ/.." && pwd)
DATA=${PARAPET_DATA:-$ROOT/../shared/data}
CORPUS=$FUZZ/corpus
PBL=${CARGO_TARGET_DIR:-$ROOT/target}/debug/parapet-blocklist
[[ -d $DATA ]] || { echo "seeds.sh: no data at $DATA (set PARAPET_DATA)" >&2; exit 1; }
mkdir -p "$CORPUS"/{wire_query,answer_layout,list_formats,artifact,config,doh_request}

# slice FILE N — the first N meaningful-looking lines of a list (gz too),
# skipping the long comment headers real lists start with.
slice() {
    local cat="cat"
    [[ $1 == *.gz ]] && cat="zcat"
    { $cat "$1" || true; } | awk -v n="$2" 'NR <= 20 || /^[^#!;]/ { print; if (++k >= n) exit }'
}

# list_formats: selector byte (index into the target's FORMATS; 0x0f =
# detect) then a slice of a real list of that format.
seed_list() { # seed_list SELECTOR FILE NAME
    # shellcheck disable=SC2059 # the selector byte is written as an escape
    { printf "\\x$1"; slice "$2" 40; } >"$CORPUS/list_formats/$3"
}
n=0
for f in "$DATA"/hosts/* "$DATA"/domains/* "$DATA"/adblock/* "$DATA"/rpz/* "$DATA"/dnsmasq/* "$DATA"/ips/* "$DATA"/messy/*; do
    [[ -f $f ]] || continue
    case $f in
    */hosts/*) sel=00 ;; */domains/*) sel=01 ;; */adblock/*) sel=02 ;; */rpz/*) sel=03 ;;
    */dnsmasq/*) sel=04 ;; */ips/*) sel=05 ;; *) sel=0f ;;
    esac
    seed_list "$sel" "$f" "$(basename "$f")"
    seed_list 0f "$f" "detect-$(basename "$f")"
    n=$((n + 1))
done
printf '\x06https://login.evil.example/a?b=c\nhttp://192.0.2.1/x\n' >"$CORPUS/list_formats/urls"

# config: the shipped configs.
cp "$ROOT"/config/*.toml "$CORPUS/config/"

# artifact: mode byte 0 (as is) and 1 (length and checksum fixed up) before
# artifacts compiled from list slices.
[[ -x $PBL ]] || (cd "$ROOT" && cargo build -q -p parapet-blocklist --bin parapet-blocklist)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
slice "$DATA/hosts/blocklistproject_scam.hosts" 60 >"$tmp/scam.hosts"
slice "$DATA/adblock/hagezi_fake.adblock.txt" 60 >"$tmp/fake.txt"
slice "$DATA/ips/hagezi_tif_ips.txt" 60 >"$tmp/ips.txt"
compile() { "$PBL" compile -o "$@" >"$tmp/compile.log" 2>&1 || { cat "$tmp/compile.log" >&2; exit 1; }; }
compile "$tmp/a.pbl" "$tmp/scam.hosts" "adblock:$tmp/fake.txt" "ip:$tmp/ips.txt"
compile "$tmp/b.pbl" "$tmp/scam.hosts"
for a in a b; do
    { printf '\x00'; cat "$tmp/$a.pbl"; } >"$CORPUS/artifact/$a"
    { printf '\x01'; cat "$tmp/$a.pbl"; } >"$CORPUS/artifact/$a-fixed"
done

# DNS packets for names from the lists: queries (wire_query, doh_request)
# and answers (answer_layout).
slice "$DATA/domains/phishing_army_via_romainmarcoux.txt" 30 | grep -v '^#' >"$tmp/names"
python3 - "$CORPUS" "$tmp/names" <<'EOF'
import base64, os, struct, sys

corpus, names = sys.argv[1], [l.strip() for l in open(sys.argv[2]) if l.strip()]
names += ["evil.example", "www.phish.test", "allowed.evil.example", "use-application-dns.net"]

def name(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".") if l) + b"\0"

def opt(payload=1232, do=False, options=b""):
    return b"\0" + struct.pack(">HHBBHH", 41, payload, 0, 0, 0x8000 if do else 0, len(options)) + options

def query(i, n, qtype, edns=None):
    ar = 0 if edns is None else 1
    return struct.pack(">HHHHHH", i, 0x0100, 1, 0, 0, ar) + name(n) + struct.pack(">HH", qtype, 1) + (edns or b"")

def answer(i, n, records, edns=None, rcode=0):
    head = struct.pack(">HHHHHH", i, 0x8180 | rcode, 1, len(records), 0, 0 if edns is None else 1)
    body = name(n) + struct.pack(">HH", 1, 1)
    for ttl, rdata in records:  # owner: pointer to the question name
        body += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, ttl, len(rdata)) + rdata
    return head + body + (edns or b"")

def write(target, label, data):
    with open(os.path.join(corpus, target, label), "wb") as f:
        f.write(data)

for k, n in enumerate(names):
    for qtype, edns, tag in [(1, None, "a"), (28, opt(), "aaaa-edns"), (65, opt(4096, True), "https-do"),
                             (16, opt(512, False, struct.pack(">HH", 10, 8) + b"cookie!!"), "txt-cookie")]:
        q = query(k, n, qtype, edns)
        write("wire_query", f"{k}-{tag}", q)
        if tag == "a":
            b64 = base64.urlsafe_b64encode(q).rstrip(b"=")
            write("doh_request", f"{k}-get", b"/dns-query\0dns=" + b64 + b"\0")
            write("doh_request", f"{k}-post-token", b"/dns-query/tok3n\0\0" + q)
    recs = [(300, bytes([192, 0, 2, k % 256])), (60, bytes([198, 51, 100, 7]))]
    write("answer_layout", f"{k}-a", struct.pack(">I", 30) + answer(k, n, recs))
    write("answer_layout", f"{k}-a-edns", struct.pack(">I", 400) + answer(k, n, recs[:1], opt()))
    write("answer_layout", f"{k}-nx", struct.pack(">I", 1) + answer(k, n, [], None, 3))
EOF
echo "seeds: $(find "$CORPUS" -type f | wc -l) files under $CORPUS ($n lists)"
