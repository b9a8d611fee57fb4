#!/usr/bin/env bash
# CI: build the Raspberry Pi image and boot-test it under emulation. The Debian bootstrap (~25 min)
# is cached in /var/cache/ja4-sensor-image, keyed by image/packages.txt, so repeated runs on the
# same machine take ~10 min. Prints the timings the issue asks for.
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
make image
t1=$(date +%s)
bash image/test.sh
t2=$(date +%s)
version="$(node -p 'require("./package.json").version')"
echo "ci-image: image dist/sensor-$version-arm64.img.xz $(du -m "dist/sensor-$version-arm64.img.xz" | cut -f1) MiB; build $(( t1 - t0 )) s, boot test $(( t2 - t1 )) s"
