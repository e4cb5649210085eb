# shellcheck shell=bash
# Network namespaces for benches/cluster/run.sh: one bridge namespace and
# one namespace per machine, each joined to the bridge by a veth pair. All
# addresses live inside the namespaces (10.99.0.0/24); the host's own
# interfaces and routes are never touched.

NET_PREFIX=10.99.0
NET_NAMESPACES=() # every namespace created, for net_teardown

# net_setup TAG — create the bridge namespace "TAG-hub".
net_setup() {
    NET_HUB=$1-hub
    ip netns add "$NET_HUB"
    NET_NAMESPACES+=("$NET_HUB")
    ip -n "$NET_HUB" link add br0 type bridge
    ip -n "$NET_HUB" link set br0 up
}

# net_host NS HOST — namespace NS with address $NET_PREFIX.HOST/24 on eth0,
# plugged into the bridge, loopback up.
net_host() {
    local ns=$1 host=$2
    ip netns add "$ns"
    NET_NAMESPACES+=("$ns")
    ip -n "$ns" link set lo up
    ip -n "$ns" link add eth0 type veth peer name "p$host" netns "$NET_HUB"
    ip -n "$NET_HUB" link set "p$host" master br0 up
    ip -n "$ns" addr add "$NET_PREFIX.$host/24" dev eth0
    ip -n "$ns" link set eth0 up
}

# net_teardown — delete every namespace created (their veths go with them).
net_teardown() {
    local ns
    for ns in "${NET_NAMESPACES[@]}"; do
        ip netns del "$ns" 2>/dev/null || true
    done
    NET_NAMESPACES=()
}

# in_ns NS CMD... — run CMD in namespace NS.
in_ns() {
    local ns=$1
    shift
    ip netns exec "$ns" "$@"
}
