"""gunicorn's settings for `deploy/entrypoint.sh web` (the container and CI's smoke test).

Sync workers (each request holds one database connection for its length: size PgBouncer's
pool or PostgreSQL's max_connections for WEB_CONCURRENCY x web hosts); their request metrics
are shared through PROMETHEUS_MULTIPROC_DIR, and a worker that exits leaves its gauges there
marked dead.
"""

from __future__ import annotations

import multiprocessing
import os

bind = f"{os.environ.get('OMS_BIND', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or min(2 * multiprocessing.cpu_count() + 1, 9))
worker_class = "sync"
timeout = int(os.environ.get("OMS_WEB_TIMEOUT_SECONDS", "30"))
graceful_timeout = 20
keepalive = 5
# A worker is replaced after this many requests (a slow leak never grows for ever).
max_requests = int(os.environ.get("OMS_WEB_MAX_REQUESTS", "5000"))
max_requests_jitter = max_requests // 10
# The application logs as configured (JSON in production); gunicorn's own lines go to stderr,
# and each request is counted by /metrics rather than written to an access log.
accesslog = os.environ.get("OMS_WEB_ACCESS_LOG") or None
errorlog = "-"
# gunicorn's run-time control socket (version 27 on) stays off: a container needs none, and
# servers side by side on one machine would share its path.
control_socket_disable = True
forwarded_allow_ips = os.environ.get("OMS_TRUSTED_PROXIES", "127.0.0.1")
# The load balancer's X-Forwarded-Proto is trusted only with SECURE_PROXY_SSL_HEADER=1 (Django).


def child_exit(server, worker):  # type: ignore[no-untyped-def]
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
