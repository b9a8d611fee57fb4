#!/usr/bin/env bash
# System packages the test suite uses: tcpdump (live capture test), mosquitto (MQTT tests), openssl,
# and for the USB-stick tests (sticks built as loop-device images): fdisk, dosfstools, mtools, exfatprogs.
# Idempotent; needs root (as on CI and the developer machines) and skips apt when all are present.
set -euo pipefail
need=()
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || need+=(mosquitto-clients)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
command -v sfdisk >/dev/null 2>&1 || [ -x /usr/sbin/sfdisk ] || need+=(fdisk)
command -v mkfs.vfat >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.vfat ] || need+=(dosfstools)
command -v mcopy >/dev/null 2>&1 || need+=(mtools)
command -v mkfs.exfat >/dev/null 2>&1 || [ -x /usr/sbin/mkfs.exfat ] || need+=(exfatprogs)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install-test-deps: missing ${need[*]}; run as root or install them (tests that need them will be skipped)" >&2
    exit 0
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
