#!/usr/bin/env bash
# make image-test: boot the built image in qemu-system-aarch64 (-M virt, TCG) with the image's own
# kernel and initrd, and prove the appliance works as a user would see it:
#   - first boot: authorized_keys and sensor.yaml from the boot partition are applied (we log in
#     with that key over SSH forwarded on loopback), the data partition grows to fill the disk;
#   - sensord is active (live capture on eth0 through sensor-capture.socket), `sensorctl status`;
#   - a shared capture replayed through `sensord --read` changes the profiles;
#   - a USB stick image holding a backup DB, hot-plugged through QEMU's monitor, is seeded within
#     60 s and `sensorctl export-profiles` then shows the backup's profiles;
#   - a clean poweroff flushes: the database read offline from the powered-off disk holds what the
#     live daemon profiled (our SSH connections seen on eth0) after its last periodic flush.
# Serial console: image/work/test/serial.log. Needs: make image, root, ../shared/conformance.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo"
t0=$(date +%s)
step() { echo "image-test: [$(( $(date +%s) - t0 ))s] $*" >&2; }
die() { echo "image-test: FAIL: $*" >&2; exit 1; }

version="$(node -p "require('./package.json').version")"
image="${SENSOR_TEST_IMAGE:-dist/sensor-$version-arm64.img.xz}"
work="${SENSOR_IMAGE_WORK:-$repo/image/work}/test"
captures="${SENSOR_CONFORMANCE:-$repo/../shared/conformance}/foxio/pcap"
REPLAY_CAPTURE="${REPLAY_CAPTURE:-tls-handshake.pcapng}"
STICK_CAPTURE="${STICK_CAPTURE:-browsers-x509.pcapng}"
SEED_DEADLINE=60

[ -f "$image" ] || die "$image missing: run make image first"
[ -d "$captures" ] || die "shared captures not found at $captures"
bash image/host-deps.sh
make -s build

rm -rf "$work"; mkdir -p "$work"
qemu_pid=""
cleanup() {
  if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then kill "$qemu_pid"; fi
  return 0
}
trap cleanup EXIT

# --- the disk: the image as a user flashes it, onto a bigger "card", plus files on the boot FAT ---
step "unpack $image"
case "$image" in *.xz) xz -dc "$image" > "$work/disk.img" ;; *) cp --sparse=always "$image" "$work/disk.img" ;; esac
truncate -s +512M "$work/disk.img"
boot_off=$(( $(sfdisk -J "$work/disk.img" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).partitiontable.partitions[0].start))') * 512 ))
fat="$work/disk.img@@$boot_off"
kernel="$(mdir -i "$fat" -b ::/ | sed -n 's|^::/||p' | grep '^vmlinuz-' | sort -V | tail -1)"
initrd="$(mdir -i "$fat" -b ::/ | sed -n 's|^::/||p' | grep '^initrd.img-' | sort -V | tail -1)"
[ -n "$kernel" ] && [ -n "$initrd" ] || die "no kernel/initrd on the image's boot partition"
mcopy -i "$fat" "::/$kernel" "$work/vmlinuz"
mcopy -i "$fat" "::/$initrd" "$work/initrd.img"
ssh-keygen -q -t ed25519 -N '' -C image-test -f "$work/id"
cat > "$work/sensor.yaml" <<'EOF'
# image-test: live capture on eth0 (our SSH connections), no periodic flush during the test so
# that the poweroff check sees data only the final flush can have written.
interface: eth0
db_path: /var/lib/sensor/sensor.db
flush_interval: 3600
EOF
mcopy -i "$fat" "$work/id.pub" ::/authorized_keys
mcopy -i "$fat" "$work/sensor.yaml" ::/sensor.yaml

# --- the USB stick: one FAT partition with sensor-backup/<backup>.db made by the host's sensorctl --
step "backup DB for the stick from $STICK_CAPTURE"
node dist/daemon/sensord.js --read "$captures/$STICK_CAPTURE" --db "$work/stick-src.db" >/dev/null
mkdir -p "$work/stick/sensor-backup"
node dist/cli/sensorctl.js backup "$work/stick/sensor-backup/office-backup.db" --db "$work/stick-src.db" >/dev/null
node dist/cli/sensorctl.js export-profiles --db "$work/stick-src.db" > "$work/stick-profiles.jsonl"
[ -s "$work/stick-profiles.jsonl" ] || die "the stick's backup has no profiles ($STICK_CAPTURE)"
mkfs.vfat -C -n SENSORSTICK "$work/stick-fs.img" $(( 31 * 1024 )) >/dev/null
mcopy -i "$work/stick-fs.img" -s "$work/stick/sensor-backup" ::/
truncate -s 32M "$work/stick.img"
echo 'start=1MiB, type=c' | sfdisk --quiet "$work/stick.img"
dd if="$work/stick-fs.img" of="$work/stick.img" bs=1M seek=1 conv=notrunc status=none

# --- boot ------------------------------------------------------------------------------------------
port=$(( 20000 + RANDOM % 20000 ))
step "boot in qemu-system-aarch64 (TCG), SSH on 127.0.0.1:$port"
boot_start=$(date +%s)
qemu-system-aarch64 -M virt -cpu cortex-a72 -m 1024 -smp 2 \
  -kernel "$work/vmlinuz" -initrd "$work/initrd.img" \
  -append "root=LABEL=RASPIROOT rw rootwait fsck.repair=yes net.ifnames=0 console=ttyAMA0" \
  -drive if=none,file="$work/disk.img",format=raw,id=hd -device virtio-blk-pci,drive=hd \
  -netdev user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$port-:22 -device virtio-net-pci,netdev=n0,romfile= \
  -device qemu-xhci,id=xhci \
  -display none -serial file:"$work/serial.log" -monitor unix:"$work/monitor.sock",server,nowait \
  </dev/null >"$work/qemu.log" 2>&1 &
qemu_pid=$!

SSH=(ssh -i "$work/id" -p "$port" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null
     -o LogLevel=ERROR -o ConnectTimeout=10 root@127.0.0.1)
guest() { "${SSH[@]}" "$@"; }
monitor() {
  node -e '
    const s = require("net").connect(process.argv[1]);
    s.on("connect", () => { s.write(process.argv[2] + "\n"); setTimeout(() => s.end(), 1500); });
    s.on("data", () => {}); s.on("error", (e) => { console.error(e.message); process.exit(1); });
  ' "$work/monitor.sock" "$1"
}
wait_for() { # seconds, description, command...
  local limit=$1 what=$2; shift 2
  local end=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$qemu_pid" 2>/dev/null || die "qemu exited while waiting for $what (see $work/serial.log)"
    [ "$(date +%s)" -lt "$end" ] || die "$what not within $limit s (see $work/serial.log)"
    sleep 3
  done
}

wait_for 420 "SSH login with the key from the boot partition" guest true
step "SSH up $(( $(date +%s) - boot_start )) s after start"
grep -a 'firstboot:' "$work/serial.log" | sed 's/^/  serial: /' >&2 || true
guest 'test -f /boot/firmware/authorized_keys.applied && test -f /boot/firmware/sensor.yaml.applied' \
  || die "authorized_keys/sensor.yaml on the boot partition were not marked applied"
guest 'grep -q "flush_interval: 3600" /etc/sensor/sensor.yaml' || die "sensor.yaml from the boot partition not installed"
guest 'passwd -S root | grep -q " L "' || die "root has a usable password"
data_mb="$(guest "df -BM --output=size /var/lib/sensor | tail -1 | tr -dc 0-9")"
[ "$data_mb" -gt 400 ] || die "data partition not grown on first boot (size ${data_mb} MiB)"
step "data partition grown to ${data_mb} MiB"

wait_for 300 "sensord active" guest 'systemctl is-active --quiet sensord'
step "sensord active $(( $(date +%s) - boot_start )) s after start"
guest 'systemctl is-active --quiet "sensor-capture@*.service"' || die "no capture helper running (sensor-capture@.service)"
guest 'sensorctl status' > "$work/status.txt" || die "sensorctl status failed: $(cat "$work/status.txt")"
sed 's/^/  status: /' "$work/status.txt" >&2

# --- replay a shared capture through sensord --read into the sensor's database ---------------------
step "replay $REPLAY_CAPTURE through sensord --read"
scp -q -i "$work/id" -P "$port" -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null \
  -o LogLevel=ERROR "$captures/$REPLAY_CAPTURE" "root@127.0.0.1:/tmp/replay.pcap"
guest 'sensorctl export-profiles' > "$work/profiles-0.jsonl"
guest 'chmod 0644 /tmp/replay.pcap && systemctl stop sensord &&
  setpriv --reuid=sensor --regid=sensor --init-groups node /opt/sensor/dist/daemon/sensord.js \
    --config /etc/sensor/sensor.yaml --db /var/lib/sensor/sensor.db --read /tmp/replay.pcap >/dev/null &&
  systemctl start sensord' || die "sensord --read of $REPLAY_CAPTURE failed"
guest 'sensorctl export-profiles' > "$work/profiles-1.jsonl"
cmp -s "$work/profiles-0.jsonl" "$work/profiles-1.jsonl" && die "replaying $REPLAY_CAPTURE did not change the profiles"
step "profiles changed: $(wc -l < "$work/profiles-0.jsonl") -> $(wc -l < "$work/profiles-1.jsonl") lines"
wait_for 300 "sensord active again" guest 'systemctl is-active --quiet sensord'

# --- hot-plug the USB stick ------------------------------------------------------------------------
step "hot-plug the USB stick through the QEMU monitor"
serial_mark=$(wc -l < "$work/serial.log")
plug=$(date +%s)
monitor "drive_add 0 if=none,id=usbdisk,file=$work/stick.img,format=raw"
monitor "device_add usb-storage,bus=xhci.0,drive=usbdisk,id=usbstick,removable=on"
seeded() { tail -n +"$serial_mark" "$work/serial.log" | grep -aq 'usb-seed: \(seeded\|failed\|nothing\)'; }
wait_for $(( SEED_DEADLINE + 30 )) "USB seed result on the serial console" seeded
seed_s=$(( $(date +%s) - plug ))
tail -n +"$serial_mark" "$work/serial.log" | grep -a 'usb-seed' | tr -d '\r' > "$work/usb-seed-serial.txt"
sed 's/^/  serial: /' "$work/usb-seed-serial.txt" >&2
grep -q 'usb-seed: seeded' "$work/usb-seed-serial.txt" || die "the stick was not seeded"
[ "$seed_s" -le "$SEED_DEADLINE" ] || die "seeded after $seed_s s (limit $SEED_DEADLINE s)"
step "seeded $seed_s s after the hot-plug"
guest 'sensorctl export-profiles' > "$work/profiles-2.jsonl"
node image/profiles-contain.mjs "$work/profiles-2.jsonl" "$work/stick-profiles.jsonl" \
  || die "export-profiles does not show the backup's profiles"
monitor "device_del usbstick"

# --- clean poweroff flushes --------------------------------------------------------------------------
step "poweroff"
for i in 1 2 3 4 5; do guest true; done   # new connections on eth0 for the live daemon to profile
guest 'sensorctl export-profiles' > "$work/profiles-3.jsonl"
guest 'systemctl poweroff' || true
end=$(( $(date +%s) + 180 ))
while kill -0 "$qemu_pid" 2>/dev/null; do
  [ "$(date +%s)" -lt "$end" ] || die "no power-off within 180 s"
  sleep 2
done
qemu_pid=""
grep -aq 'reboot: Power down' "$work/serial.log" || die "the guest did not power down cleanly"
grep -a 'sensord' "$work/serial.log" | grep -ai 'fail' && die "sensord failed during shutdown (serial log)"
step "read the database from the powered-off disk"
read -r data_start data_sectors < <(sfdisk -J "$work/disk.img" | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const p=JSON.parse(s).partitiontable.partitions[2];console.log(p.start,p.size)})')
dd if="$work/disk.img" of="$work/data.img" bs=512 skip="$data_start" count="$data_sectors" conv=sparse status=none
debugfs -R 'ls -l /' "$work/data.img" 2>/dev/null > "$work/data-ls.txt"
debugfs -R "dump /sensor.db $work/offline.db" "$work/data.img" 2>/dev/null
for ext in wal shm; do debugfs -R "dump /sensor.db-$ext $work/offline.db-$ext" "$work/data.img" 2>/dev/null || true; done
find "$work" -maxdepth 1 -name 'offline.db-*' -size 0 -delete
[ -s "$work/offline.db" ] || die "no sensor.db on the data partition"
node dist/cli/sensorctl.js export-profiles --db "$work/offline.db" > "$work/profiles-offline.jsonl"
node image/profiles-contain.mjs "$work/profiles-offline.jsonl" "$work/profiles-3.jsonl" \
  || die "the powered-off database lost profiles"
cmp -s "$work/profiles-offline.jsonl" "$work/profiles-3.jsonl" \
  && die "the final flush at poweroff wrote nothing new (the SSH connections seen live are missing)"
step "poweroff flushed: $(wc -l < "$work/profiles-3.jsonl") -> $(wc -l < "$work/profiles-offline.jsonl") profile lines"
step "PASS in $(( $(date +%s) - t0 )) s (boot to SSH, checks, USB seed in $seed_s s, poweroff)"
