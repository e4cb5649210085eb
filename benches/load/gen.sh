# shellcheck shell=bash
# Input generators for benches/load/run.sh (sourced, not run): the synthetic
# upstream zone, the Unbound list include files and the dnsperf query files.
# Everything is deterministic (fixed awk seeds) so that runs are comparable.

# gen_zone UMBRELLA_GZ ZONE_OUT NAMES_OUT TARGET
# Writes a root zone "." for the upstream authoritative server: TARGET
# benign-looking names (the Umbrella top-100k names and "www."/"api."/
# "cdn."/"mail." variants of them), one A record each, TTL one day so that
# nothing expires during a run. NAMES_OUT gets the names, one a line.
gen_zone() {
    local umbrella=$1 zone=$2 names=$3 target=$4
    zcat "$umbrella" | awk -v target="$target" -v zone="$zone" -v names="$names" '
        BEGIN {
            print "$ORIGIN ." > zone
            print "$TTL 86400" > zone
            print ". IN SOA ns.upstream.invalid. hostmaster.upstream.invalid. 1 3600 600 86400 3600" > zone
            print ". IN NS ns.upstream.invalid." > zone
            print "ns.upstream.invalid. IN A 127.0.0.1" > zone
            np = split(" www. api. cdn. mail.", prefix, " ")
            n = 0
        }
        /^[a-z0-9_-]+(\.[a-z0-9_-]+)+$/ && length($0) < 200 { base[++nb] = $0 }
        END {
            for (p = 0; p <= np && n < target; p++) {
                pre = (p == 0) ? "" : prefix[p]
                for (i = 1; i <= nb && n < target; i++) {
                    name = pre base[i]
                    if (name in seen) continue
                    seen[name] = 1
                    n++
                    printf "%s. IN A 10.%d.%d.%d\n", name, int(n / 65536) % 256, int(n / 256) % 256, n % 256 > zone
                    print name > names
                }
            }
        }'
}

# split_blocked LIST NAMES_IN BENIGN_OUT
# Keeps in BENIGN_OUT the names of NAMES_IN that no rule of the list covers
# (neither the name nor any parent domain is on it), so that "benign" queries
# are forwarded by both servers.
split_blocked() {
    local list=$1 names=$2 benign=$3
    awk -v benign="$benign" '
        FNR == NR { if ($0 !~ /^#/ && $0 != "") bl[$0] = 1; next }
        {
            name = $0; hit = 0
            while (1) {
                if (name in bl) { hit = 1; break }
                dot = index(name, ".")
                if (dot == 0) break
                name = substr(name, dot + 1)
            }
            if (!hit) print $0 > benign
        }' "$list" "$names"
}

# gen_blocked_candidates LIST OUT COUNT
# COUNT names spread evenly over the list; every third one gets a "www."
# label in front so that subdomain coverage is exercised too.
gen_blocked_candidates() {
    local list=$1 out=$2 count=$3
    awk -v count="$count" '
        $0 !~ /^#/ && $0 != "" { l[++n] = $0 }
        END {
            step = n / count; if (step < 1) step = 1
            k = 0
            for (x = 1; x <= n && k < count; x += step) {
                i = int(x); k++
                if (k % 3 == 0 && length(l[i]) < 240) print "www." l[i]; else print l[i]
            }
        }' "$list" >"$out"
}

# gen_unbound_list LIST OUT MODE SINK4 SINK6 TTL
# Unbound include file with one local zone per list entry. MODE "nxdomain":
# always_nxdomain; MODE "sinkhole": a redirect zone whose apex A/AAAA
# local-data answers the name and every name under it.
gen_unbound_list() {
    local list=$1 out=$2 mode=$3 sink4=$4 sink6=$5 ttl=$6
    awk -v mode="$mode" -v s4="$sink4" -v s6="$sink6" -v ttl="$ttl" '
        $0 ~ /^#/ || $0 == "" { next }
        mode == "nxdomain" { printf "local-zone: \"%s.\" always_nxdomain\n", $0; next }
        {
            printf "local-zone: \"%s.\" redirect\n", $0
            printf "local-data: \"%s. %d IN A %s\"\n", $0, ttl, s4
            printf "local-data: \"%s. %d IN AAAA %s\"\n", $0, ttl, s6
        }' "$list" >"$out"
}

# gen_queries_plain NAMES OUT QTYPE
gen_queries_plain() {
    awk -v t="$3" '{ print $0, t }' "$1" >"$2"
}

# gen_queries_realistic BENIGN BLOCKED LOOKALIKES OUT COUNT BLOCKED% LOOKALIKE% NX% SEED
# COUNT queries: BLOCKED% drawn uniformly from BLOCKED, LOOKALIKE% from
# LOOKALIKES, NX% names that exist nowhere ("nxQ.<benign name>", each new:
# a miss and NXDOMAIN at the upstream), the rest benign names drawn with a
# Zipf-like (log-uniform rank) popularity from BENIGN; 85% A, 15% AAAA.
gen_queries_realistic() {
    local benign=$1 blocked=$2 lookalikes=$3 out=$4 count=$5 pct=$6 lpct=$7 nxpct=$8 seed=$9
    awk -v count="$count" -v pct="$pct" -v lpct="$lpct" -v nxpct="$nxpct" -v seed="$seed" '
        FILENAME == ARGV[1] { b[++nb] = $0; next }
        FILENAME == ARGV[2] { k[++nk] = $0; next }
        { l[++nl] = $0 }
        END {
            srand(seed)
            for (q = 0; q < count; q++) {
                r = rand() * 100
                if (r < pct) name = k[1 + int(rand() * nk)]
                else if (r < pct + lpct) name = l[1 + int(rand() * nl)]
                else if (r < pct + lpct + nxpct) name = "nx" q "." b[1 + int(rand() * nb)]
                else {
                    i = int(exp(rand() * log(nb)))
                    if (i < 1) i = 1
                    if (i > nb) i = nb
                    name = b[i]
                }
                print name, (rand() < 0.85 ? "A" : "AAAA")
            }
        }' "$benign" "$blocked" "$lookalikes" >"$out"
}

# gen_lookalike_candidates OUT — typosquats of domains in parapet's default
# [lookalikes] set (digit swaps, rn for m, a letter doubled, dropped or
# swapped, lure words, other suffixes); run.sh keeps those parapet flags.
gen_lookalike_candidates() {
    awk 'BEGIN {
        n = split("gmail google outlook hotmail microsoft yahoo icloud apple protonmail parliament", w, " ")
        ns = split(".com .net .co.uk .org .info", sfx, " ")
        nl = split("login secure verify account support mail", lure, " ")
        for (i = 1; i <= n; i++) {
            x = w[i]; c = 0
            v[++c] = x; gsub(/o/, "0", v[c])
            v[++c] = x; gsub(/l/, "1", v[c])
            v[++c] = x; gsub(/m/, "rn", v[c])
            for (p = 1; p < length(x); p++) {
                v[++c] = substr(x, 1, p) substr(x, p, 1) substr(x, p + 1)
                v[++c] = substr(x, 1, p - 1) substr(x, p + 1)
                v[++c] = substr(x, 1, p - 1) substr(x, p + 1, 1) substr(x, p, 1) substr(x, p + 2)
            }
            for (j = 1; j <= nl; j++) { v[++c] = lure[j] "-" x; v[++c] = x "-" lure[j] }
            for (j = 1; j <= c; j++) if (v[j] != x) for (s = 1; s <= ns; s++) print v[j] sfx[s]
        }
    }' | sort -u >"$1"
}

# gen_queries_miss NAMES OUT COUNT TAG
# COUNT queries for names no one asked before, type A: "TAG<i>.<name>"
# under the zone's names in turn, so every query misses every cache and
# is forwarded (the upstream answers NXDOMAIN). A different TAG gives a
# different set.
gen_queries_miss() {
    awk -v count="$3" -v tag="$4" '
        { n[++nn] = $0 }
        END { for (i = 0; i < count; i++) print tag i "." n[1 + i % nn], "A" }' "$1" >"$2"
}
