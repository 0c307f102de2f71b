#!/bin/sh
# Asterisk runs on the config the control plane renders into the shared volume (mounted at
# the same path in both containers) at each of its starts: wait for the first, then run in the
# foreground as the packaged user.
set -eu
conf=/var/lib/voicectl/asterisk/etc/asterisk.conf
# Written last by the control plane's render: the whole config is there once it is.
until [ -f /var/lib/voicectl/asterisk/etc/.rendered ]; do sleep 1; done
exec asterisk -f -C "$conf" -U asterisk -G asterisk
