# The control plane: the Stasis app, AMI link, HTTP server and CLI. Asterisk runs in its own
# container (containers/asterisk), PostgreSQL in a third (containers/postgres);
# docker-compose.yml ties them together. BASE is any Debian 12 image: debian:bookworm-slim
# from a registry, or localhost/debian:bookworm, which containers/setup.sh builds where there
# is none.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3 python3-venv espeak-ng sox libsox-fmt-mp3 \
 && rm -rf /var/lib/apt/lists/*
# Asterisk's user, with the uid and gid containers/asterisk/Dockerfile gives it (keep the two
# equal): the control plane makes the config it renders into the shared volume theirs.
ARG ASTERISK_UID=61101
RUN groupadd --system --gid "$ASTERISK_UID" asterisk \
 && useradd --system --uid "$ASTERISK_UID" --gid asterisk --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin asterisk
COPY pyproject.toml /tmp/voicectl/
COPY control /tmp/voicectl/control
# Not editable: everything voicectl reads at run time is package data.
RUN python3 -m venv /opt/voicectl \
 && /opt/voicectl/bin/pip install --no-cache-dir '/tmp/voicectl[postgres]' \
 && rm -rf /tmp/voicectl
ENV PATH=/opt/voicectl/bin:$PATH \
    VOICECTL_DATA_DIR=/var/lib/voicectl \
    VOICECTL_MANAGE_ASTERISK=0
CMD ["sh", "-c", "voicectl init && voicectl demo --if-missing && exec voicectl up"]
