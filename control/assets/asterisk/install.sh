#!/usr/bin/env bash
# Provision everything the platform runs beside Python: Asterisk 22 (the host's package when
# there is one, else a Debian sid rootfs built once and cached), SIPp, espeak-ng and sox (with MP3).
# Idempotent: a second run finds everything in place and returns in well under a second.
#   usage: install.sh ROOTFS_DIR   (what `voicectl install` runs)
set -euo pipefail
rootfs=${1:?usage: install.sh ROOTFS_DIR}
# libsox-fmt-mp3: sox reads MP3 uploads to the album library only with it.
packages_host=(sip-tester espeak-ng sox libsox-fmt-mp3)
packages_rootfs=asterisk,asterisk-core-sounds-en-gsm,asterisk-moh-opsound-gsm

need=()
for p in "${packages_host[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || need+=("$p")
done
host_asterisk=$(command -v asterisk || true)
[ -n "$host_asterisk" ] || [ -x "$rootfs/usr/sbin/asterisk" ] || command -v mmdebstrap >/dev/null || need+=(mmdebstrap)
if [ ${#need[@]} -gt 0 ]; then
  echo "install.sh: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

if [ -n "$host_asterisk" ]; then
  echo "install.sh: using the host's Asterisk at $host_asterisk" >&2
  exit 0
fi

# Asterisk in the rootfs runs as a host user of its own (map-user.sh says why).
map_user() { bash "$(dirname "$0")/map-user.sh" "$1"; }

if [ -x "$rootfs/usr/sbin/asterisk" ]; then
  map_user "$rootfs"
  exit 0
fi

# Debian 12 has no asterisk package and installing sid's into the host would upgrade libc:
# build a sid root filesystem beside it instead (about 25 s, 400 MB).
echo "install.sh: building the Asterisk rootfs in $rootfs" >&2
tmp="$rootfs.partial"
rm -rf "$tmp"
mkdir -p "$(dirname "$rootfs")"
# The mirror serves a frozen copy whose Release file is past its validity date.
mmdebstrap --variant=apt --quiet \
  --aptopt='Acquire::Check-Valid-Until "false"' \
  --include="$packages_rootfs" \
  sid "$tmp"
# Without a hosts file Asterisk resolves its own name (and the root servers) on every call,
# which blocks with no network and fails most calls under load.
printf '127.0.0.1 localhost %s\n::1 localhost\n' "$(hostname)" > "$tmp/etc/hosts"
mkdir -p "$tmp/srv/voicectl"
map_user "$tmp"
mv "$tmp" "$rootfs"
echo "install.sh: rootfs ready in $rootfs" >&2
