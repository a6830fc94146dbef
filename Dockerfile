# linkwatch container image: `docker build -t linkwatch .`
#
#   docker run -d --name linkwatch -v linkwatch-data:/data -v "$PWD/config:/config:ro" \
#              -p 127.0.0.1:8080:8080 -e LINKWATCH_WEB__ENABLED=true linkwatch
#
# Layout inside the image (the working directory mirrors a clone, so the relative paths of
# config/linkwatch.toml work unchanged):
#   /srv/linkwatch/config -> /config   configuration (LINKWATCH_CONFIG=/config/linkwatch.toml)
#   /srv/linkwatch/data   -> /data     SQLite database (the volume); unused with PostgreSQL
# The entry point is `linkwatch`: `docker run IMAGE config check`, `... export`, etc. work.

# ---- build: wheels of linkwatch and every dependency, installed into a virtualenv --------
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY service ./service
RUN pip wheel --wheel-dir /wheels . \
 && python -m venv /opt/linkwatch \
 && /opt/linkwatch/bin/pip install --no-index --find-links=/wheels linkwatch \
 && /opt/linkwatch/bin/linkwatch --version

# ---- runtime: the virtualenv only (no compiler, wheels or pip cache), a non-root user ----
FROM python:3.11-slim AS runtime
LABEL org.opencontainers.image.title="linkwatch" \
      org.opencontainers.image.description="Self-hosted link-rot and Wayback archive monitor"
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LINKWATCH_CONFIG=/config/linkwatch.toml \
    LINKWATCH_WEB__HOST=0.0.0.0 \
    LINKWATCH_WEB__PORT=8080 \
    PATH=/opt/linkwatch/bin:$PATH
RUN groupadd --system --gid 10001 linkwatch \
 && useradd --system --uid 10001 --gid linkwatch --home-dir /data --no-create-home \
            --shell /usr/sbin/nologin linkwatch
COPY --from=build /opt/linkwatch /opt/linkwatch
COPY config /config
RUN mkdir -p /data /srv/linkwatch \
 && chown linkwatch:linkwatch /data \
 && ln -s /config /srv/linkwatch/config \
 && ln -s /data /srv/linkwatch/data
WORKDIR /srv/linkwatch
VOLUME ["/data"]
USER linkwatch:linkwatch
EXPOSE 8080
# `linkwatch status` exits non-zero when the daemon's heartbeat is stale (monitor.heartbeat_stale_s).
HEALTHCHECK --interval=60s --timeout=15s --start-period=120s --retries=3 \
  CMD ["linkwatch", "status"]
ENTRYPOINT ["linkwatch"]
CMD ["run"]
