# syntax=docker/dockerfile:1
# reelbot: `docker build -t reelbot .` then `docker run --env-file .env -v reelbot-data:/data reelbot`.
# No secrets are baked in: DISCORD_TOKEN and provider keys are passed at run time.

# --- builder: install the package and its dependencies into a self-contained virtualenv -----------------
FROM python:3.11-slim-bookworm AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY cogs ./cogs
# [postgres]: asyncpg, for DATABASE_URL=postgresql://… (several processes; see docker-compose.yml)
# DL3013 ("pin versions in pip") is ignored: this installs the project itself, whose dependency ranges are in pyproject.toml.
# hadolint ignore=DL3013
RUN pip install --no-compile ".[postgres]" \
 && python -c "import bot.__main__, bot.client, asyncpg"

# --- final: the runtime only ---------------------------------------------------------------------------
# Debian bookworm pinned with the base image, so the pinned tini below stays installable.
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini=0.19.0-1+b3 \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 reelbot \
 && useradd --system --uid 10001 --gid reelbot --home-dir /data --no-create-home --shell /usr/sbin/nologin reelbot \
 && mkdir -p /data \
 && chown reelbot:reelbot /data
COPY --from=builder /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATABASE_URL=sqlite:////data/reelbot.db \
    DATA_DIR=/data \
    HEALTH_HOST=0.0.0.0
WORKDIR /data
VOLUME ["/data"]
USER 10001:10001
# Healthy by default; when HEALTH_PORT is set, /healthz on that port must answer 2xx.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request as r; p = os.environ.get('HEALTH_PORT', '').strip(); p in ('', '0') or r.urlopen(f'http://127.0.0.1:{p}/healthz', timeout=4)"]
# tini reaps children and forwards SIGTERM, on which the bot closes within 10 s (jobs resume next start).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["python", "-m", "bot"]
