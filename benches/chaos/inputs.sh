# shellcheck shell=bash
# Inputs of benches/chaos/run.sh (sourced, not run): the two lists that
# alternate, the name sets the side client judges, the query files.
# Deterministic (fixed seeds, fixed order), so that runs are comparable.

# pick_sets BENIGN SKIP OUT_PREFIX N_A N_B N_NEITHER
# From the benign zone names BENIGN (none covered by the big list), past
# its first SKIP lines (the cached names), picks three disjoint sets:
# OUT_PREFIX.only-a (N_A names), .only-b (N_B) and .neither (N_NEITHER).
# No picked name is under another picked or skipped name, nor above one:
# a domain rule for a name on list A must not cover a name that the side
# client expects to be answered, nor one of the load's cached names.
pick_sets() {
    local benign=$1 skip=$2 out=$3 na=$4 nb=$5 nn=$6
    awk -v skip="$skip" -v na="$na" -v nb="$nb" -v nn="$nn" -v out="$out" '
        function covered(n,   d) {
            while (1) {
                if (n in taken) return 1
                d = index(n, "."); if (!d) return 0
                n = substr(n, d + 1)
            }
        }
        function take(n,   d) {
            taken[n] = 1
            while (1) { above[n] = 1; d = index(n, "."); if (!d) break; n = substr(n, d + 1) }
        }
        NR <= skip { take($0); next }
        covered($0) || ($0 in above) { next }
        k < na { print > (out ".only-a"); k++; take($0); next }
        k < na + nb { print > (out ".only-b"); k++; take($0); next }
        k < na + nb + nn { print > (out ".neither"); k++; take($0); next }
        { exit }' "$benign"
    [[ -s $out.only-a && -s $out.only-b && -s $out.neither ]] || die "not enough benign names for the side client's sets"
}

# keep_blocked PBL_TOOL LIST NAMES — keep in NAMES only the names LIST
# blocks (the compiler refuses public suffixes: such a name would never be
# blocked, and the side client would count an error that is not one).
keep_blocked() {
    local tool=$1 list=$2 names=$3
    "$tool" check "$list" - <"$names" | awk -F '\t' '$2 == "block" { print $1 }' >"$names.kept"
    mv "$names.kept" "$names"
    [[ -s $names ]] || die "no name of $names is blocked by $list"
}

# gen_fresh PREFIX COUNT OUT — COUNT names under the upstream's wildcard
# (*.fresh.chaos.test), unique to PREFIX: never cached, always forwarded.
gen_fresh() {
    awk -v p="$1" -v n="$2" 'BEGIN { for (i = 1; i <= n; i++) printf "%s-%d.fresh.chaos.test A\n", p, i }' >"$3"
}

# interleave CACHED BLOCKED FRESH OUT — the mix the run holds, for
# measuring the maximum rate: the cached queries with a blocked one after
# every ninth and a fresh one after every seventeenth (about 85% cached,
# 10% blocked, 5% forwarded).
interleave() {
    awk 'FILENAME == ARGV[1] { b[++nb] = $0; next }
         FILENAME == ARGV[2] { f[++nf] = $0; next }
         {
             print
             if (FNR % 9 == 0) print b[1 + (kb++ % nb)]
             if (FNR % 17 == 0) print f[1 + (kf++ % nf)]
         }' "$2" "$3" "$1" >"$4"
}
