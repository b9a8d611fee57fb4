#!/usr/bin/env bash
# Host tools for `make image` / `make image-test` (Debian, root): bootstrap, arm64 emulation,
# cross compiler, disk tools, the system emulator and an SSH client. Idempotent and quick when done.
set -euo pipefail
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have mmdebstrap || need+=(mmdebstrap)
[ -e /usr/libexec/qemu-binfmt/aarch64-binfmt-P ] || have qemu-aarch64-static || need+=(qemu-user-static)
have update-binfmts || need+=(binfmt-support)
have arch-test || need+=(arch-test)
have qemu-system-aarch64 || need+=(qemu-system-arm)
have aarch64-linux-gnu-g++ || need+=(g++-aarch64-linux-gnu gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
have mkfs.vfat || need+=(dosfstools)
have mcopy || need+=(mtools)
have sfdisk || need+=(fdisk)
have xz || need+=(xz-utils)
have zstd || need+=(zstd)
have ssh || need+=(openssh-client)
have mke2fs || need+=(e2fsprogs)
have python3 || need+=(python3)
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" -eq 0 ] || { echo "image: needs root to install ${need[*]}" >&2; exit 1; }
  echo "image: installing host tools: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
# arm64 binaries in the chroot run through binfmt_misc + qemu-user.
[ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc
[ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ] || update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
arch-test arm64 >/dev/null || { echo "image: arm64 binaries cannot run here (binfmt_misc/qemu-user-static)" >&2; exit 1; }
