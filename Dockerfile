# The OMS image: one image for every process (web, workers, beat, migrations), chosen by the
# entry point's first argument (deploy/entrypoint.sh). Multi-stage: the build stage compiles
# nothing into the final image; the final one runs as an unprivileged user.
#
#   docker build -t oms .
#   docker compose up            (compose.yaml: PostgreSQL, Redis, web, workers, beat)

ARG PYTHON_VERSION=3.11

# --- build: the locked dependencies in a virtualenv ------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
# requirements.lock: every runtime package at one version (make lock), PostgreSQL's driver and
# OpenTelemetry included; honcho and the test tools are not runtime dependencies.
COPY requirements.lock /tmp/requirements.lock
RUN pip install --no-deps -r /tmp/requirements.lock

# --- run: the virtualenv, the code, the static files; no compiler, no build tools ------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS run
RUN groupadd --system --gid 10001 oms \
    && useradd --system --uid 10001 --gid oms --home-dir /app --shell /usr/sbin/nologin oms
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DJANGO_SETTINGS_MODULE=oms.settings \
    DEBUG=0 \
    OMS_VAR_DIR=/app/var \
    OMS_STATIC_ROOT=/app/static \
    PROMETHEUS_MULTIPROC_DIR=/tmp/oms-prometheus \
    PORT=8000
WORKDIR /app
# The project runs from its source tree, as in development (root-owned: the process cannot
# change its own code); only var/ (uploads, beat's schedule) is the process's to write.
COPY manage.py pyproject.toml ./
COPY templates ./templates
COPY deploy ./deploy
COPY oms ./oms
COPY inventory ./inventory
COPY orders ./orders
COPY fulfilment ./fulfilment
COPY returns ./returns
COPY channels ./channels
COPY webhooks ./webhooks
COPY reports ./reports
# Static files are collected at build time, compressed and hashed for whitenoise (a throwaway
# SECRET_KEY: collectstatic reads the settings, it signs nothing).
RUN SECRET_KEY=build-only-not-secret python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p /app/var && chown -R oms:oms /app/var /app/static
USER oms:oms
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s \
    CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)" || exit 1
ENTRYPOINT ["/app/deploy/entrypoint.sh"]
CMD ["web"]
