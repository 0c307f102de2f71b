#!/usr/bin/env bash
# What the container stack (docker-compose.yml) needs on a Debian 12 host, scripted and
# idempotent: podman and runc, podman-compose from PyPI in a venv, the engine settings these
# machines need, the base images, and .env with a generated database password.
#   usage: containers/setup.sh [VENV_DIR]   (default .venv; `make test-compose` runs it)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-.venv}

need=()
for tool in podman runc mmdebstrap; do command -v "$tool" >/dev/null || need+=("$tool"); done
if [ ${#need[@]} -gt 0 ]; then
  echo "setup.sh: installing ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

# podman lowers its own RLIMIT_NPROC and the VM refuses raising a hard limit, so the default
# ulimits fail with EPERM; crun refuses this machine's hybrid cgroup layout, runc works. A
# drop-in (read after /etc/containers/containers.conf) leaves the host's own file alone.
mkdir -p /etc/containers/containers.conf.d
cat > /etc/containers/containers.conf.d/voicectl.conf <<'CONF'
# Written by voicectl's containers/setup.sh.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
CONF

[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
[ -x "$venv/bin/podman-compose" ] || "$venv/bin/pip" install -q podman-compose==1.6.0

# No image registry is reachable here: the base images are built from Debian's packages. The
# way out to PyPI re-signs TLS with a CA only this host's bundle trusts, so the images carry
# that bundle and point pip at it (a registry's images need neither).
base_image() {  # NAME SUITE [mmdebstrap option...]
  podman image exists "$1" && return 0
  echo "setup.sh: building base image $1" >&2
  mmdebstrap --variant=minbase --quiet "${@:3}" \
    --customize-hook='mkdir -p "$1/etc/ssl"' \
    --customize-hook='upload /etc/ssl/certs/ca-certificates.crt /etc/ssl/host-ca.crt' \
    --customize-hook='printf "[global]\ncert = /etc/ssl/host-ca.crt\n" > "$1/etc/pip.conf"' \
    "$2" "$tar"
  # Imported only once whole: a half-built image under the name would be taken as done.
  podman import --quiet "$tar" "$1" >/dev/null
  rm -f "$tar"
}
tar=$(mktemp --suffix=.tar)
trap 'rm -f "$tar"' EXIT
base_image localhost/debian:bookworm bookworm
# The mirror serves a frozen sid whose Release file is past its validity date; the option
# stays in the image's apt configuration for the builds on top of it.
base_image localhost/debian:sid sid --aptopt='Acquire::Check-Valid-Until "false"'

if [ ! -f .env ]; then
  (
    umask 077
    cat > .env <<ENV
# Written by containers/setup.sh; read by docker-compose.yml. Private: it holds the password
# of PostgreSQL's voicectl role, generated here.
VOICECTL_DB_PASSWORD=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')
# Base images built above (with a registry, drop these and the Dockerfiles' defaults apply).
VOICECTL_BASE_BOOKWORM=localhost/debian:bookworm
VOICECTL_BASE_SID=localhost/debian:sid
ENV
  )
  echo "setup.sh: wrote .env with a generated database password" >&2
fi
