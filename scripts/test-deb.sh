#!/usr/bin/env bash
# The Debian package, end to end (CI runs this from .ci/run, as root):
# build it (scripts/build-deb.sh), inspect its contents and control files,
# run lintian, install it with dpkg -i (offline: inside a network namespace,
# so the first feed update fails the documented way), publish a list
# compiled from config/feeds-samples/ where the update timer would, check
# the installed config with `parapet check-config`, run `parapet setup` and
# the installed binary with the config it wrote inside a network namespace
# with a LAN address, query a blocked name, fetch the warning page, then
# check that `dpkg -r` keeps config and data and `dpkg --purge` removes them.
#   scripts/test-deb.sh            # builds the package
#   scripts/test-deb.sh FILE.deb   # tests a package already built
# Needs root, dpkg-dev, lintian, adduser, binutils, systemd (systemd-analyze),
# dig, curl, unshare, ip.
# Installs the package on this machine for the test and purges it after.
set -euo pipefail
cd "$(dirname "$0")/.."

fail() { echo "test-deb: FAIL: $*" >&2; exit 1; }
step() { echo "test-deb: $*"; }

[ "$(id -u)" = 0 ] || fail "needs root (it installs the package)"
if dpkg -s parapet >/dev/null 2>&1; then
  fail "a parapet package is installed already: dpkg --purge parapet first"
fi
had_user=no
getent passwd parapet >/dev/null && had_user=yes

deb="${1:-}"
if [ -z "$deb" ]; then
  deb="$(scripts/build-deb.sh | tail -n 1)"
fi
[ -f "$deb" ] || fail "no package at '$deb'"
step "package $deb"

# 1. Contents and control files.
contents="$(dpkg-deb -c "$deb")"
for path in ./usr/bin/parapet ./usr/bin/parapet-blocklist ./etc/parapet/parapet.toml \
            ./usr/lib/systemd/system/parapet.service \
            ./usr/lib/systemd/system/parapet-update.service \
            ./usr/lib/systemd/system/parapet-update.timer \
            ./usr/lib/systemd/system/parapet.service.d/static-user.conf \
            ./usr/lib/systemd/system/parapet-update.service.d/static-user.conf \
            ./usr/share/doc/parapet/copyright ./usr/share/doc/parapet/changelog.Debian.gz; do
  grep -q " ${path}\$" <<<"$contents" || fail "$path missing from the package"
done
dpkg-deb -f "$deb" Package | grep -qx parapet || fail "package name"
conffiles="$(dpkg-deb -I "$deb" conffiles)"
grep -qx /etc/parapet/parapet.toml <<<"$conffiles" || fail "parapet.toml is not a conffile"
for script in postinst prerm postrm; do
  dpkg-deb -I "$deb" "$script" >/dev/null || fail "no $script"
done
extract="$(mktemp -d)"
trap 'rm -rf "$extract"' EXIT
dpkg-deb -x "$deb" "$extract"
for bin in parapet parapet-blocklist; do
  if readelf -S "$extract/usr/bin/$bin" | grep -qE '\.(debug_info|symtab)\b'; then
    fail "/usr/bin/$bin is not stripped"
  fi
done
cmp -s "$extract/etc/parapet/parapet.toml" config/home.toml || fail "the conffile is not config/home.toml"
step "contents OK"

# 2. lintian: no errors (warnings are printed, not fatal).
lintian --fail-on error --tag-display-limit 0 "$deb"
step "lintian OK"

# 3. Install offline: the first feed update must fail with a clear message
# and the install must still succeed.
install_log="$(unshare --net -- dpkg -i "$deb" 2>&1)" || { echo "$install_log"; fail "dpkg -i"; }
echo "$install_log"
grep -q "no list yet" <<<"$install_log" || fail "postinst did not say the list is missing"
grep -q "parapet setup" <<<"$install_log" || fail "postinst did not point at parapet setup"
grep -q "parapet.toml is valid" <<<"$install_log" || fail "postinst did not validate the config"
getent passwd parapet >/dev/null || fail "no parapet user"
[ "$(stat -c %U /var/lib/parapet)" = parapet ] || fail "/var/lib/parapet is not parapet's"
step "installed"
# The installed units with the package's drop-ins, as systemd would read them.
systemd-analyze verify /usr/lib/systemd/system/parapet.service \
  /usr/lib/systemd/system/parapet-update.service /usr/lib/systemd/system/parapet-update.timer \
  || fail "systemd-analyze verify of the installed units"
step "installed units verify"

# 4. A list where the update timer publishes it (the samples of the default
# feeds), then the installed config checks out.
compile_args=()
for sample in config/feeds-samples/*.hosts; do compile_args+=("hosts:$sample"); done
runuser -u parapet -- /usr/bin/parapet-blocklist compile -o /var/lib/parapet/parapet.pbl "${compile_args[@]}" >/dev/null
/usr/bin/parapet check-config /etc/parapet/parapet.toml >/dev/null || fail "check-config of the installed config"
step "check-config OK"

# 5. parapet setup, then the installed binary with the config it wrote, in a
# network namespace with a LAN (eth0, one end of a veth pair, with
# 192.168.7.9/24 and a default route via 192.168.7.1).
blocked="$(awk '/^0\.0\.0\.0 / {print $2; exit}' config/feeds-samples/blocklistproject-phishing.hosts)"
unshare --net -- bash -euo pipefail -c '
  blocked="$1"
  ip link set lo up
  # A veth pair stands in for the LAN card (the dummy driver is not in
  # every kernel); the peer must be up for eth0 to carry a route.
  ip link add eth0 type veth peer name lan0
  ip link set lan0 up
  ip address add 192.168.7.9/24 dev eth0
  ip link set eth0 up
  ip route add default via 192.168.7.1
  out="$(/usr/bin/parapet setup)" || { echo "$out"; echo "setup failed" >&2; exit 1; }
  echo "$out"
  grep -q "to 192.168.7.9" <<<"$out"
  grep -q "sinkhole_ipv4 = \"192.168.7.9\"" /etc/parapet/parapet.toml
  /usr/bin/parapet --config /etc/parapet/parapet.toml -q &
  pid=$!
  trap "kill $pid 2>/dev/null || true" EXIT
  answer=""
  for _ in $(seq 1 100); do
    answer="$(dig +short +time=1 +tries=1 @192.168.7.9 "$blocked" A 2>/dev/null || true)"
    [ -n "$answer" ] && break
    kill -0 $pid || { echo "parapet exited" >&2; exit 1; }
    sleep 0.1
  done
  [ "$answer" = 192.168.7.9 ] || { echo "blocked name $blocked got [$answer]" >&2; exit 1; }
  page="$(curl -s -o - -w "%{http_code}" -H "Host: $blocked" http://192.168.7.9/)"
  [ "${page: -3}" = 403 ] || { echo "warning page: ${page: -3}" >&2; exit 1; }
  grep -q "$blocked" <<<"$page" || { echo "warning page does not name $blocked" >&2; exit 1; }
  # "Am I protected?": the reserved names answer whatever the lists say.
  check="$(dig +short +time=2 +tries=1 @192.168.7.9 check.parapet.test A)"
  [ "$check" = 192.168.7.9 ] || { echo "check.parapet.test got [$check]" >&2; exit 1; }
  test_name="$(dig +short +time=2 +tries=1 @192.168.7.9 blocked.parapet.test A)"
  [ "$test_name" = 192.168.7.9 ] || { echo "blocked.parapet.test got [$test_name]" >&2; exit 1; }
  curl -s -H "Host: check.parapet.test" http://192.168.7.9/ | grep -qi "protected" \
    || { echo "the check page does not say protected" >&2; exit 1; }
' test-deb "$blocked" || fail "the installed parapet in a namespace"
step "setup and serving OK"

# 6. Remove: binaries and units go; config, data and the user stay.
dpkg -r parapet >/dev/null
[ ! -e /usr/bin/parapet ] || fail "dpkg -r left /usr/bin/parapet"
[ ! -e /usr/lib/systemd/system/parapet.service ] || fail "dpkg -r left the unit"
[ -f /etc/parapet/parapet.toml ] || fail "dpkg -r removed the config"
[ -f /var/lib/parapet/parapet.pbl ] || fail "dpkg -r removed the data"
step "remove OK"

# 7. Purge: config and data go; the system user stays (README).
dpkg --purge parapet >/dev/null
[ ! -e /etc/parapet ] || fail "purge left /etc/parapet"
[ ! -e /var/lib/parapet ] || fail "purge left /var/lib/parapet"
getent passwd parapet >/dev/null || fail "purge removed the parapet user (documented to stay)"
if [ "$had_user" = no ]; then deluser --system --quiet parapet >/dev/null 2>&1 || true; fi
step "purge OK"
echo "test-deb: all checks passed"
