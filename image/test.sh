#!/usr/bin/env bash
# make image-test: boot the built image in qemu-system-aarch64 (-M virt, TCG) with the image's own
# kernel and initrd, and prove the appliance works as a user would see it:
#   - first boot: authorized_keys and sensor.yaml from the boot partition are applied (we log in
#     with that key over SSH forwarded on loopback), the data partition grows to fill the disk;
#   - sensord is active (live capture on eth0 through sensor-capture.socket), `sensorctl status`;
#   - a shared capture replayed through `sensord --read` changes the profiles;
#   - a USB stick image holding a backup DB, hot-plugged through QEMU's monitor, is seeded within
#     60 s and `sensorctl export-profiles` then shows the backup's profiles;
#   - a stick with a big backup pulled out as soon as it is mounted leaves the profiles either
#     untouched (refused mid-copy) or seeded whole (from the private copy), never half-merged;
#   - the watchdog: a frozen sensord (SIGSTOP) is restarted by systemd, a healthy one is not;
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
pairs:   # the defaults, plus one our SSH connections (no TLS) feed: client address -> TCP stack
  - { anchor: ja4, companion: ja4t }
  - { anchor: ja4, companion: ja4h }
  - { anchor: client_ip, companion: ja4 }
  - { anchor: server, companion: ja4s }
  - { anchor: client_ip, companion: ja4t }
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

# A second stick whose backup is big enough (600k rows, ~50 MiB) to be pulled out while it is copied.
step "big backup for the pull-out stick"
node -e '
  const fs = require("fs"); const out = fs.openSync(process.argv[1], "w"); let s = "";
  for (let i = 0; i < 600000; i++) {
    s += JSON.stringify({ anchor_key: "client_ip>ja4:10.99." + String(i).padStart(6, "0"),
      companion_key: "t13d1516h2_8daaf6152771_" + (i % 997).toString(16).padStart(12, "0"),
      count: 3, total_seen: 3, last_updated: 1796000000000 }) + "\n";
    if (s.length > 1 << 20) { fs.writeSync(out, s); s = ""; }
  }
  fs.writeSync(out, s);' "$work/big.jsonl"
node dist/cli/sensorctl.js import-profiles "$work/big.jsonl" --db "$work/big-src.db" >/dev/null
mkdir -p "$work/bigstick/sensor-backup"
node dist/cli/sensorctl.js backup "$work/bigstick/sensor-backup/big.db" --db "$work/big-src.db" >/dev/null
rm -f "$work/big.jsonl"
mkfs.vfat -C -n BIGSTICK "$work/bigstick-fs.img" $(( 127 * 1024 )) >/dev/null
mcopy -i "$work/bigstick-fs.img" -s "$work/bigstick/sensor-backup" ::/
truncate -s 128M "$work/bigstick.img"
echo 'start=1MiB, type=c' | sfdisk --quiet "$work/bigstick.img"
dd if="$work/bigstick-fs.img" of="$work/bigstick.img" bs=1M seek=1 conv=notrunc status=none
rm -rf "$work/bigstick" "$work/bigstick-fs.img" "$work/big-src.db"*

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
# READY comes once the profiles are loaded; the capture helper is asked for right after, and its
# client is one more node start-up (6-11 s on the emulated CPU).
wait_for 120 "the capture helper (sensor-capture@.service)" guest 'systemctl is-active --quiet "sensor-capture@*.service"'
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

# --- a stick pulled out mid-seed: the sensor's data is either untouched or fully seeded -----------------
step "hot-plug a stick with a big backup and pull it out as soon as it is mounted"
sleep 5   # let the guest finish removing the first stick
big_rows() { guest "sensorctl export-profiles --anchor 'client_ip>ja4:10.99.' | wc -l"; }
[ "$(big_rows)" = 0 ] || die "the big backup's anchors are there before its stick is plugged in"
serial_mark=$(wc -l < "$work/serial.log")
monitor "drive_add 0 if=none,id=bigdisk,file=$work/bigstick.img,format=raw"
monitor "device_add usb-storage,bus=xhci.0,drive=bigdisk,id=bigstick,removable=on"
mounted() { tail -n +"$serial_mark" "$work/serial.log" | grep -aq 'usb-seed: mounted'; }
end=$(( $(date +%s) + 90 ))
until mounted; do [ "$(date +%s)" -lt "$end" ] || die "the big stick was not mounted within 90 s"; sleep 0.2; done
monitor "device_del bigstick"
wait_for 300 "USB seed result for the pulled stick" seeded
tail -n +"$serial_mark" "$work/serial.log" | grep -a 'usb-seed' | tr -d '\r' > "$work/usb-pull-serial.txt"
sed 's/^/  serial: /' "$work/usb-pull-serial.txt" >&2
after_rows="$(big_rows)"
if grep -q 'usb-seed: failed' "$work/usb-pull-serial.txt"; then
  grep -q 'sensor data untouched' "$work/usb-pull-serial.txt" || die "the pulled stick failed without saying the data is untouched"
  [ "$after_rows" = 0 ] || die "the pulled stick was refused, yet $after_rows of its rows are in the profiles"
  step "pulled out mid-copy: refused, profiles untouched"
else
  grep -q 'usb-seed: seeded' "$work/usb-pull-serial.txt" || die "no result for the pulled stick"
  [ "$after_rows" = 600000 ] || die "the pulled stick seeded only part of its backup ($after_rows of 600000 rows)"
  step "pulled out after the copy: seeded whole from the private copy (600000 rows)"
fi

# --- the watchdog: a stuck sensord is restarted ----------------------------------------------------------
step "watchdog: freeze sensord (SIGSTOP) under a 20 s WatchdogSec"
guest 'mkdir -p /run/systemd/system/sensord.service.d &&
  printf "[Service]\nWatchdogSec=20s\nTimeoutAbortSec=10s\n" > /run/systemd/system/sensord.service.d/50-test-watchdog.conf &&
  systemctl daemon-reload && systemctl restart sensord' || die "cannot restart sensord with a short watchdog"
wait_for 300 "sensord active with the short watchdog" guest 'systemctl is-active --quiet sensord'
sleep 30   # longer than WatchdogSec: a live daemon keeps feeding it
[ "$(guest 'systemctl show -p NRestarts --value sensord')" = 0 ] || die "sensord was restarted while healthy (watchdog not fed)"
guest 'kill -STOP "$(systemctl show -p MainPID --value sensord)"'
restarted() { [ "$(guest 'systemctl show -p NRestarts --value sensord')" -ge 1 ]; }
wait_for 120 "systemd to restart the frozen sensord" restarted
guest 'journalctl -u sensord -o cat --no-pager | grep -i "watchdog timeout"' | sed 's/^/  journal: /' >&2 \
  || die "sensord was restarted, but not by the watchdog"
guest 'rm -f /run/systemd/system/sensord.service.d/50-test-watchdog.conf && systemctl daemon-reload'
wait_for 300 "sensord active again after the watchdog restart" guest 'systemctl is-active --quiet sensord'
wait_for 120 "the capture helper after the watchdog restart" guest 'systemctl is-active --quiet "sensor-capture@*.service"'
step "watchdog restarted the frozen sensord"

# --- clean poweroff flushes --------------------------------------------------------------------------
step "poweroff"
# New connections on eth0 for the live daemon to profile (each guest call is one), until it has
# fingerprinted some: its capture restarted with it after the watchdog step.
live_fingerprints() { guest 'sensorctl status --json' | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).daemon.fingerprints??0))'; }
fp0="$(live_fingerprints)"
fingerprinted() { for i in 1 2 3; do guest true; done; [ "$(live_fingerprints)" -gt "$fp0" ]; }
wait_for 120 "the live sensord to fingerprint our SSH connections" fingerprinted
# As of the last flush (--no-flush: no flush through the control socket): the final flush at
# poweroff must add what the daemon profiled since.
guest 'sensorctl export-profiles --no-flush' > "$work/profiles-3.jsonl"
serial_mark=$(wc -l < "$work/serial.log")   # the watchdog step above failed sensord on purpose
guest 'systemctl poweroff' || true
end=$(( $(date +%s) + 180 ))
while kill -0 "$qemu_pid" 2>/dev/null; do
  [ "$(date +%s)" -lt "$end" ] || die "no power-off within 180 s"
  sleep 2
done
qemu_pid=""
grep -aq 'reboot: Power down' "$work/serial.log" || die "the guest did not power down cleanly"
tail -n +"$serial_mark" "$work/serial.log" | grep -a 'sensord' | grep -ai 'fail' && die "sensord failed during shutdown (serial log)"
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
