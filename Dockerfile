# shopassist web app and HTTP API: one worker per container. compose.yaml runs two of them over
# Redis (sessions), PostgreSQL (event log) and a Chroma server (vectors), the README's
# "Scaling out" layout; the same image also runs the Chroma server and one-off commands.
FROM python:3.11-slim-bookworm

# ffmpeg decodes voice messages for Whisper; make runs the project's own install. Debian's
# current security updates, not pinned versions, are what a rebuilt image should carry.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg make \
    && rm -rf /var/lib/apt/lists/*

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONUNBUFFERED=1
WORKDIR /app

# Dependencies first, in their own layer, so a code change does not reinstall torch: `make
# torch` takes the CPU build from PyTorch's CPU wheel index (reachable from a normal build).
COPY Makefile requirements.lock ./
RUN make torch VENV=/opt/venv \
    && /opt/venv/bin/pip install -q --no-deps -r requirements.lock

# The code, installed by the same `make install` as on a workstation (the steps above are then
# already satisfied).
COPY . .
# /chroma is where compose.yaml's Chroma server keeps its index (a volume takes its owner).
RUN make install VENV=/opt/venv \
    && useradd --system --uid 10001 --home-dir /data --no-create-home shop \
    && mkdir -p /data /chroma \
    && chown shop /data /chroma

USER 10001
ENV PATH=/opt/venv/bin:$PATH \
    SHOPASSIST_DATA_DIR=/data \
    SHOPASSIST_HOST=0.0.0.0 \
    SHOPASSIST_PORT=7860
VOLUME ["/data"]
EXPOSE 7860
HEALTHCHECK --interval=30s --timeout=10s --start-period=120s \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:7860/api/v1/health', timeout=5)"]
CMD ["shopassist", "serve"]
