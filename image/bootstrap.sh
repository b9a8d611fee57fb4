#!/usr/bin/env bash
# Bootstrap the Debian trixie arm64 root (the slow step: ~25-30 min under qemu-user) and keep it
# in a cache outside the repository, keyed by the package list, the mirrors and this script, so that
# later builds on the same machine reuse it and list exactly the same package versions.
# Prints the path of the cached root tarball on stdout.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${SENSOR_IMAGE_CACHE:-/var/cache/ja4-sensor-image}"
suite=trixie
mirrors=(
  "deb http://deb.debian.org/debian $suite main non-free-firmware"
  "deb http://deb.debian.org/debian $suite-updates main non-free-firmware"
  "deb http://deb.debian.org/debian-security $suite-security main non-free-firmware"
)
packages="$(grep -v '^\s*#' "$here/packages.txt" | grep -v '^\s*$' | sort -u | paste -sd, -)"
key="$( { printf '%s\n' "${mirrors[@]}" "$packages"; cat "$0"; } | sha256sum | cut -c1-16)"
out="$cache/rootfs-$key.tar"
if [ -s "$out" ] && [ -s "$cache/libnode-dev-$key.deb" ]; then
  echo "bootstrap: cached root $out" >&2
  echo "$out"
  exit 0
fi
mkdir -p "$cache"
tmp="$cache/rootfs-$key.partial.tar"
rm -f "$tmp"
echo "bootstrap: mmdebstrap $suite arm64 -> $out (takes ~25-30 min)" >&2
start=$(date +%s)
# libnode-dev (headers for cross-compiling better-sqlite3) is only downloaded, never installed:
# it is kept next to the root so the compile uses headers of exactly the image's nodejs.
mmdebstrap --architectures=arm64 --variant=apt --format=tar \
  --include="$packages" \
  --customize-hook='chroot "$1" sh -c "cd /var/tmp && apt-get download libnode-dev"' \
  --customize-hook="mv \"\$1\"/var/tmp/libnode-dev_*.deb '$cache/libnode-dev-$key.deb'" \
  "$suite" "$tmp" "${mirrors[@]}" >&2
mv "$tmp" "$out"
echo "bootstrap: done in $(( $(date +%s) - start )) s" >&2
echo "$out"
