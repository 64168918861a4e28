FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY setup.cfg pyproject.toml README.md ./
COPY bot ./bot
RUN pip install . && useradd --create-home --uid 10001 incidentbot && mkdir -p /data && chown incidentbot /data

COPY config.yaml ./
COPY playbooks ./playbooks

USER incidentbot
ENV INCIDENT_BOT_DB=/data/incident-bot.sqlite
VOLUME ["/data"]

CMD ["incident-bot", "run", "--config", "/app/config.yaml"]
