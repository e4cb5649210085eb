#!/usr/bin/env bash
# Build the Debian package for this machine's architecture (on a Raspberry
# Pi: arm64 or armhf; on a PC: amd64) into target/debian/.
#   scripts/build-deb.sh            # release build of both binaries, then the .deb
# Needs cargo-deb (`cargo install cargo-deb`) and dpkg-dev (dpkg-shlibdeps).
# Prints the path of the .deb on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v cargo-deb >/dev/null 2>&1 || {
  echo "cargo-deb is missing: cargo install cargo-deb" >&2
  exit 2
}
# Both binaries in one release build (cargo-deb itself builds only the
# package it packs, and parapet-blocklist lives in its own crate).
# Profile `deb` (Cargo.toml): release without debug info, stripped.
cargo build --profile deb --locked -p parapet-resolver -p parapet-blocklist
cargo deb --no-build --profile deb --strip --locked -p parapet-resolver "$@" | tail -n 1
