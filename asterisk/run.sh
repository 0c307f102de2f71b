#!/usr/bin/env bash
# Run one Asterisk instance in the foreground (the control plane supervises and restarts it).
#   usage: asterisk/run.sh INSTANCE_DIR ROOTFS_DIR
# With a host Asterisk, INSTANCE_DIR/etc/asterisk.conf is used in place. Otherwise Asterisk
# runs chrooted in the sid rootfs, in a private mount namespace so that /proc and the
# instance bind mount die with the process and never leak to the host.
set -euo pipefail
inst=${1:?usage: run.sh INSTANCE_DIR ROOTFS_DIR}
rootfs=${2:?usage: run.sh INSTANCE_DIR ROOTFS_DIR}
user_args=(-U asterisk -G asterisk)
if command -v asterisk >/dev/null 2>&1; then
  id asterisk >/dev/null 2>&1 || user_args=()
  exec asterisk -f -C "$inst/etc/asterisk.conf" "${user_args[@]}"
fi
[ -x "$rootfs/usr/sbin/asterisk" ] || { echo "run.sh: no Asterisk: run asterisk/install.sh $rootfs" >&2; exit 1; }
# exec all the way down: the pid the supervisor holds is Asterisk's own.
exec unshare --mount --propagation private sh -c '
  mount -t proc proc "$1/proc" && mount --bind "$2" "$1/srv/voicectl" &&
  exec chroot "$1" /usr/sbin/asterisk -f -C /srv/voicectl/etc/asterisk.conf -U asterisk -G asterisk
' run.sh "$rootfs" "$inst"
