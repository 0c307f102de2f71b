#!/usr/bin/env bash
# Give Asterisk in the rootfs a host account of its own. The rootfs's `asterisk` user has
# the uid Debian gave it (101), which on the host belongs to some other account (postgres,
# here): that account then owned Asterisk's config and could read the ARI password. This
# creates the host system user voicectl-asterisk and gives the rootfs's `asterisk` user its
# uid and gid. Idempotent and quick when done already; install.sh, `voicectl init` and `up`
# run it, so a rootfs built by an older version is brought up to date.
#   usage: map-user.sh ROOTFS_DIR
set -euo pipefail
root=${1:?usage: map-user.sh ROOTFS_DIR}
host_user=voicectl-asterisk
[ -f "$root/etc/passwd" ] || exit 0
id "$host_user" >/dev/null 2>&1 || useradd --system --no-create-home --home-dir /nonexistent \
  --shell /usr/sbin/nologin --user-group "$host_user"
uid=$(id -u "$host_user"); gid=$(id -g "$host_user")
old_uid=$(awk -F: '$1 == "asterisk" {print $3}' "$root/etc/passwd")
old_gid=$(awk -F: '$1 == "asterisk" {print $3}' "$root/etc/group")
[ "$old_uid" = "$uid" ] && [ "$old_gid" = "$gid" ] && exit 0
echo "map-user.sh: Asterisk in the rootfs runs as host user $host_user ($uid:$gid), was $old_uid:$old_gid" >&2
# Files first, the account last: an interrupted run is done again from the start next time.
# Owner and group separately, so a root:asterisk file stays root's.
[ "$old_uid" = "$uid" ] || find "$root" -xdev -uid "$old_uid" -not -path "$root/proc/*" -exec chown -h "$uid" {} +
[ "$old_gid" = "$gid" ] || find "$root" -xdev -gid "$old_gid" -not -path "$root/proc/*" -exec chgrp -h "$gid" {} +
sed -i "s/^asterisk:x:$old_uid:$old_gid:/asterisk:x:$uid:$gid:/" "$root/etc/passwd"
sed -i "s/^asterisk:x:$old_gid:/asterisk:x:$gid:/" "$root/etc/group"
