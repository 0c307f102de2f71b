#!/usr/bin/env bash
# Run one Asterisk instance in the foreground (the control plane supervises and restarts it).
#   usage: run.sh INSTANCE_DIR ROOTFS_DIR   (what `voicectl up` runs)
# With a host Asterisk, INSTANCE_DIR/etc/asterisk.conf is used in place. Otherwise Asterisk
# runs chrooted in the sid rootfs, in a private mount namespace so that /proc and the
# instance bind mount die with the process and never leak to the host.
#
# Asterisk never outlives its supervisor: the control plane holds this script's stdin open
# and never writes to it. When it closes, because the supervisor stops Asterisk or because
# the control plane died (kill -9 included), the guard below stops Asterisk.
set -euo pipefail
inst=${1:?usage: run.sh INSTANCE_DIR ROOTFS_DIR}
rootfs=${2:?usage: run.sh INSTANCE_DIR ROOTFS_DIR}
user_args=(-U asterisk -G asterisk)
exec 3<&0 </dev/null
if command -v asterisk >/dev/null 2>&1; then
  id asterisk >/dev/null 2>&1 || user_args=()
  asterisk -f -C "$inst/etc/asterisk.conf" "${user_args[@]}" 3<&- &
else
  [ -x "$rootfs/usr/sbin/asterisk" ] || { echo "run.sh: no Asterisk in $rootfs: run voicectl install" >&2; exit 1; }
  # exec all the way down: $! is Asterisk's own pid.
  unshare --mount --propagation private sh -c '
    mount -t proc proc "$1/proc" && mount --bind "$2" "$1/srv/voicectl" &&
    exec chroot "$1" /usr/sbin/asterisk -f -C /srv/voicectl/etc/asterisk.conf -U asterisk -G asterisk
  ' run.sh "$rootfs" "$inst" 3<&- &
fi
asterisk_pid=$!
(
  cat <&3 >/dev/null || true
  kill -TERM "$asterisk_pid" 2>/dev/null || exit 0
  for _ in $(seq 100); do kill -0 "$asterisk_pid" 2>/dev/null || exit 0; sleep 0.1; done
  kill -KILL "$asterisk_pid" 2>/dev/null || true
) &
guard_pid=$!
exec 3<&-
code=0
wait "$asterisk_pid" || code=$?
# Asterisk ended by itself: the guard (and its reader) have nothing left to watch.
pkill -P "$guard_pid" 2>/dev/null || true
kill "$guard_pid" 2>/dev/null || true
exit "$code"
