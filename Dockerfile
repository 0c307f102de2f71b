# The control plane: the Stasis app, AMI link, HTTP API and CLI. Asterisk runs in its own
# container (see docker-compose.yml); the two share the data volume at the same path.
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends espeak-ng sox \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/voicectl
COPY pyproject.toml README.md ./
COPY control ./control
COPY asterisk ./asterisk
COPY dialplan ./dialplan
COPY examples ./examples
RUN pip install --no-cache-dir -e '.[postgres]'
ENV VOICECTL_DATA_DIR=/var/lib/voicectl \
    VOICECTL_MANAGE_ASTERISK=0 \
    VOICECTL_HTTP_HOST=0.0.0.0
EXPOSE 8080
CMD ["sh", "-c", "voicectl init && voicectl demo && exec voicectl up"]
