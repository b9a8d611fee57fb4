#!/usr/bin/env bash
# make image: the flashable Raspberry Pi (arm64) image of the sensor.
#
#   dist/sensor-<version>-arm64.img.xz          the image (FAT boot + ext4 root + ext4 data)
#   dist/sensor-<version>-arm64.img.xz.sha256   its checksum
#   dist/sensor-<version>-arm64.manifest.txt    every Debian and npm package in it, with versions
#
# Steps: host tools -> Debian root (cached, image/bootstrap.sh) -> application with production deps
# and better-sqlite3 cross-compiled for arm64 (cached by package-lock) -> configure the root in a
# chroot (qemu-user) -> partitions built as files (mkfs.vfat+mcopy, mke2fs -d; no loop devices, no
# mounts of the image) -> one disk image -> xz.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
t0=$(date +%s)
step() { echo "image: [$(( $(date +%s) - t0 ))s] $*" >&2; }

version="$(node -p "require('./package.json').version")"
name="sensor-$version-arm64"
work="${SENSOR_IMAGE_WORK:-$repo/image/work}"
cache="${SENSOR_IMAGE_CACHE:-/var/cache/ja4-sensor-image}"
BOOT_MB=256
DATA_MB=64
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"

[ "$(id -u)" -eq 0 ] || { echo "image: must run as root (chroot, file ownership in the image)" >&2; exit 1; }
step "host tools"
bash image/host-deps.sh

step "Debian root (bootstrap or cache)"
rootfs_tar="$(bash image/bootstrap.sh)"
key="$(basename "$rootfs_tar" .tar)"; key="${key#rootfs-}"
libnode_deb="$cache/libnode-dev-$key.deb"

step "application (npm run build)"
make -s build

# --- production node_modules for arm64, cached by package-lock and the image's node headers -----
mkdir -p "$work"
modules_key="$( { cat package-lock.json; dpkg-deb -f "$libnode_deb" Version; } | sha256sum | cut -c1-16)"
modules_tar="$cache/node_modules-arm64-$modules_key.tar"
if [ ! -s "$modules_tar" ]; then
  step "production dependencies, better-sqlite3 cross-compiled for arm64 (~2-3 min)"
  rm -rf "$work/npm" "$work/libnode"
  mkdir -p "$work/npm" "$work/libnode"
  dpkg-deb -x "$libnode_deb" "$work/libnode"
  cp package.json package-lock.json "$work/npm/"
  (
    cd "$work/npm"
    # The machine's npmrc sets nodedir; the environment overrides it with the arm64 headers of
    # exactly the nodejs in the image (Debian's, ABI 115).
    export CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ AR=aarch64-linux-gnu-ar LINK=aarch64-linux-gnu-g++
    export npm_config_arch=arm64 npm_config_target_arch=arm64 npm_config_nodedir="$work/libnode/usr"
    export npm_config_build_from_source=true
    npm ci --omit=dev --no-audit --no-fund --loglevel=error >&2
  )
  addon="$work/npm/node_modules/better-sqlite3/build/Release/better_sqlite3.node"
  machine="$(od -An -j18 -N2 -tx2 "$addon" | tr -d ' ')"
  [ "$machine" = "00b7" ] || { echo "image: $addon is not an arm64 binary (e_machine $machine)" >&2; exit 1; }
  # Build leftovers (object files, the sqlite amalgamation) are not needed at run time.
  ( cd "$work/npm/node_modules/better-sqlite3" && rm -rf build/Release/obj* build/Release/.deps build/deps deps/sqlite3 src )
  tar -C "$work/npm" -cf "$modules_tar.partial" node_modules && mv "$modules_tar.partial" "$modules_tar"
else
  step "production dependencies from cache $modules_tar"
fi

# --- the root filesystem -----------------------------------------------------------------------
root="$work/root"
cleanup() {
  for m in proc sys dev/pts dev; do mountpoint -q "$root/$m" 2>/dev/null && umount -l "$root/$m"; done
  return 0
}
trap cleanup EXIT
cleanup
step "unpack root"
rm -rf "$root"
mkdir -p "$root"
tar -C "$root" --numeric-owner --xattrs --xattrs-include='*' -xpf "$rootfs_tar"

step "install application and configuration"
app="$root/opt/sensor"
mkdir -p "$app"
tar -cf - --owner=0 --group=0 --exclude='dist/sensor-*' --exclude='dist/.built' \
  package.json package-lock.json README.md dist scripts systemd | tar -C "$app" -xf -
tar -C "$app" --no-same-owner -xf "$modules_tar"
chown -R 0:0 "$app/node_modules"
tar -C image/overlay -cf - --owner=0 --group=0 . | tar -C "$root" -xf -
install -m 0644 systemd/*.service systemd/*.socket "$root/usr/lib/systemd/system/"
install -D -m 0644 systemd/sysusers.d/sensor.conf "$root/usr/lib/sysusers.d/sensor.conf"
install -D -m 0644 systemd/tmpfiles.d/sensor.conf "$root/usr/lib/tmpfiles.d/sensor.conf"
install -D -m 0644 systemd/udev/90-sensor-usb-seed.rules "$root/usr/lib/udev/rules.d/90-sensor-usb-seed.rules"
cat > "$root/etc/sensor/image-release" <<EOF
SENSOR_VERSION=$version
SENSOR_GIT_COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
SENSOR_BUILD_EPOCH=$SOURCE_DATE_EPOCH
EOF

step "configure root in chroot"
mount -t proc proc "$root/proc"
chroot "$root" /bin/sh -eu <<'EOF'
systemd-sysusers >/dev/null
chown root:sensor /etc/sensor/sensor.yaml && chmod 0640 /etc/sensor/sensor.yaml
systemctl enable --quiet sensord.service sensor-capture.socket sensor-firstboot.service \
  sensor-growdata.service systemd-networkd.service systemd-resolved.service \
  systemd-timesyncd.service ssh.service
# No Wi-Fi manager on D-Bus (wlan0 uses wpa_supplicant@wlan0 when configured); no daily apt/dpkg
# jobs: an appliance is updated by flashing a new image, and they would write to flash every day.
# systemd-firstboot would stop the first boot at a console prompt; sensor-firstboot does our part.
systemctl mask --quiet systemd-firstboot.service wpa_supplicant.service apt-daily.timer \
  apt-daily-upgrade.timer dpkg-db-backup.timer
# No default password anywhere: root is locked; access is by SSH key from the boot partition.
passwd -q -l root
# Regenerate cmdline.txt/config.txt with ROOTPART=LABEL=RASPIROOT and the consoles we set.
DEB_MAINT_PARAMS=configure /etc/kernel/postinst.d/z50-raspi-firmware
EOF
umount "$root/proc"
# Per-machine identity is made on first boot, never shipped: machine-id, SSH host keys, sensor id.
echo uninitialized > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id" "$root"/etc/ssh/ssh_host_* "$root/etc/sensor/sensor-id"
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb \
  "$root"/var/cache/debconf/*-old "$root"/var/lib/dpkg/*-old "$root"/tmp/* "$root"/var/tmp/*
find "$root/var/log" -type f -delete
cmdline="$(cat "$root/boot/firmware/cmdline.txt")"
step "kernel command line: $cmdline"
grep -q 'root=LABEL=RASPIROOT' <<<"$cmdline" || { echo "image: cmdline.txt lacks root=LABEL=RASPIROOT" >&2; exit 1; }
cat > "$root/boot/firmware/sensor-setup.txt" <<'EOF'
JA4+ sensor: headless setup from any PC
=======================================
Put these files on this partition (RASPIFIRM) before the first boot (or any later boot):

  authorized_keys       your SSH public key(s); log in as root with that key (there is no password)
  sensor.yaml           the sensor configuration (interface, mqtt, pairs, ...), see /etc/sensor/sensor.yaml
  wpa_supplicant.conf   Wi-Fi settings for wlan0, if the sensor is managed over Wi-Fi

Each file is applied at boot and then renamed to NAME.applied.
EOF

# --- partitions as files, then one disk ------------------------------------------------------------
step "partitions"
sensor_ids="$(awk -F: '$1=="sensor"{print $3":"$4}' "$root/etc/passwd")"
[ -n "$sensor_ids" ] || { echo "image: user sensor missing in the root" >&2; exit 1; }
rm -f "$work"/boot.img "$work"/root.img "$work"/data.img "$work"/disk.img
mkfs.vfat -C -F 32 -n RASPIFIRM -i 5E15B001 "$work/boot.img" $(( BOOT_MB * 1024 )) >/dev/null
(cd "$root/boot/firmware" && mcopy -i "$work/boot.img" -s -p -m ./* ::/)
rm -rf "$root"/boot/firmware/*
root_used_mb="$(du -sm --apparent-size "$root" | cut -f1)"
# Room for a few updates of the application and logs of a rescue session, not for a full system.
ROOT_MB=$(( (root_used_mb * 12 / 10 + 160 + 3) / 4 * 4 ))
mke2fs -q -t ext4 -L RASPIROOT -U 5e15b001-0000-4000-8000-000000000002 -E root_owner=0:0 \
  -d "$root" "$work/root.img" "${ROOT_MB}M"
mkdir -p "$work/data"
mke2fs -q -t ext4 -L SENSORDATA -U 5e15b001-0000-4000-8000-000000000003 -E root_owner="$sensor_ids" \
  -d "$work/data" "$work/data.img" "${DATA_MB}M"
disk="$work/disk.img"
DISK_MB=$(( 4 + BOOT_MB + ROOT_MB + DATA_MB ))
truncate -s "${DISK_MB}M" "$disk"
sfdisk --quiet "$disk" <<EOF
label: dos
label-id: 0x5e15b001
start=4MiB, size=${BOOT_MB}MiB, type=c, bootable
start=$(( 4 + BOOT_MB ))MiB, size=${ROOT_MB}MiB, type=83
start=$(( 4 + BOOT_MB + ROOT_MB ))MiB, size=${DATA_MB}MiB, type=83
EOF
dd if="$work/boot.img" of="$disk" bs=1M seek=4 conv=notrunc,sparse status=none
dd if="$work/root.img" of="$disk" bs=1M seek=$(( 4 + BOOT_MB )) conv=notrunc,sparse status=none
dd if="$work/data.img" of="$disk" bs=1M seek=$(( 4 + BOOT_MB + ROOT_MB )) conv=notrunc,sparse status=none
rm -f "$work/boot.img" "$work/root.img" "$work/data.img"

step "manifest"
mkdir -p dist
manifest="dist/$name.manifest.txt"
{
  echo "# $name: Debian trixie arm64 packages (dpkg) and the application's production npm packages"
  dpkg-query --admindir="$root/var/lib/dpkg" -W -f='deb\t${Package}\t${Version}\t${Architecture}\n' | sort
  node -e '
    const lock = require(process.argv[1]);
    for (const [p, v] of Object.entries(lock.packages))
      if (p && !v.dev) console.log(`npm\t${p.replace(/^.*node_modules\//, "")}\t${v.version}`);
  ' "$repo/package-lock.json" | sort -u
} > "$manifest"

step "compress ($DISK_MB MiB disk)"
xz -T2 -3 -c "$disk" > "dist/$name.img.xz.partial"
mv "dist/$name.img.xz.partial" "dist/$name.img.xz"
(cd dist && sha256sum "$name.img.xz" > "$name.img.xz.sha256")
step "done: dist/$name.img.xz ($(du -m "dist/$name.img.xz" | cut -f1) MiB compressed, $DISK_MB MiB raw), $(grep -c '^deb' "$manifest") Debian packages"
