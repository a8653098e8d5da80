"""Prometheus metrics at `/metrics`: django-prometheus's (requests, responses, latencies by
view, per process or summed over gunicorn's processes with PROMETHEUS_MULTIPROC_DIR) and the
OMS's own, read when scraped:

- `oms_celery_tasks_total{task,state}` and `oms_celery_task_duration_seconds{task}`: what every
  worker process ran (succeeded, failed, retried) and how long it took, summed over processes;
- `oms_queue_depth{queue}`: messages waiting in each broker queue;
- `oms_outbox_messages{state}` and `oms_outbox_oldest_due_seconds`: the outbox's backlog;
- `oms_processes_alive{role}`: workers and beats whose heartbeat is fresh;
- what the apps register with `gauge_register` (the channels' sync lag and stock-push lag).

Invariants:
- `/metrics` answers only a request bearing `Authorization: Bearer <OMS_METRICS_TOKEN>` or
  coming from an address in OMS_METRICS_ALLOWED_IPS; anyone else gets a 403 problem JSON and
  learns nothing;
- a worker process counts its tasks in memory and writes only its own row (oms.TaskMetrics),
  at most every OMS_METRICS_FLUSH_SECONDS and when it stops: the tasks never wait for metrics,
  and a process that dies loses at most that many seconds of counts;
- a part that cannot be read (the broker away, the database away) is left out of the answer
  and marked in `oms_metrics_unreadable{part}` instead of failing the whole scrape.
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

logger = logging.getLogger(__name__)

#: The upper bounds of the task-duration histogram, in seconds (+Inf follows).
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
STATES = ("succeeded", "failed", "retried")


# --- counting in a worker process -------------------------------------------------------------


class TaskCounts:
    """This process's task counts since it started, and their writing to its own row."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tasks: dict[str, dict[str, Any]] = {}
        self.started: dict[str, float] = {}
        self.flushed_at = time.monotonic()
        self.dirty = False

    def begin(self, task_id: str) -> None:
        with self.lock:
            self.started[task_id] = time.monotonic()

    def end(self, task_id: str, name: str, state: str) -> None:
        """Count one run of `name` ending in `state` (succeeded, failed or retried)."""
        with self.lock:
            began = self.started.pop(task_id, None)
            entry = self.tasks.setdefault(
                name,
                {**dict.fromkeys(STATES, 0), "sum": 0.0, "buckets": [0] * (len(BUCKETS) + 1)},
            )
            entry[state] = entry.get(state, 0) + 1
            if began is not None:
                seconds = time.monotonic() - began
                entry["sum"] += seconds
                slot = next((i for i, bound in enumerate(BUCKETS) if seconds <= bound), -1)
                entry["buckets"][slot] += 1
            self.dirty = True

    def flush_if_due(self) -> None:
        if time.monotonic() - self.flushed_at >= settings.OMS_METRICS_FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Write this process's row (never raises: the next flush tries again)."""
        from oms.models import TaskMetrics
        from oms.workers import HOSTNAME, process_identity

        with self.lock:
            if not self.dirty:
                return
            snapshot = {
                name: {**entry, "buckets": list(entry["buckets"])}
                for name, entry in self.tasks.items()
            }
            self.dirty = False
            self.flushed_at = time.monotonic()
        try:
            TaskMetrics.objects.update_or_create(
                identity=process_identity(),
                defaults={"hostname": HOSTNAME, "tasks": snapshot, "updated_at": timezone.now()},
            )
        except Exception as exc:
            with self.lock:
                self.dirty = True
            logger.info("Task metrics not recorded: %s", exc)


task_counts = TaskCounts()


# --- gauges the apps register -----------------------------------------------------------------


@dataclass(frozen=True)
class Gauge:
    name: str
    documentation: str
    labels: tuple[str, ...]
    #: Yields (label values, value) pairs, read at every scrape.
    read: Callable[[], Iterable[tuple[tuple[str, ...], float]]]


_gauges: dict[str, Gauge] = {}


def gauge_register(
    name: str,
    documentation: str,
    labels: Iterable[str],
    read: Callable[[], Iterable[tuple[tuple[str, ...], float]]],
) -> None:
    """A gauge of an app (called in its AppConfig.ready()); registering a name again replaces
    it."""
    _gauges[name] = Gauge(name, documentation, tuple(labels), read)


# --- reading, at scrape time ------------------------------------------------------------------


def _tasks_summed() -> dict[str, dict[str, Any]]:
    from oms.models import TaskMetrics

    summed: dict[str, dict[str, Any]] = {}
    for tasks in TaskMetrics.objects.values_list("tasks", flat=True):
        for name, entry in (tasks or {}).items():
            total = summed.setdefault(
                name,
                {**dict.fromkeys(STATES, 0), "sum": 0.0, "buckets": [0] * (len(BUCKETS) + 1)},
            )
            for state in STATES:
                total[state] += int(entry.get(state, 0))
            total["sum"] += float(entry.get("sum", 0.0))
            for i, count in enumerate(entry.get("buckets", [])[: len(BUCKETS) + 1]):
                total["buckets"][i] += int(count)
    return summed


def queue_depths() -> dict[str, int]:
    """Messages waiting in each OMS queue of the broker (a passive declare: nothing created)."""
    from oms.taskapp import QUEUES, app

    depths: dict[str, int] = {}
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
        channel = conn.default_channel
        for queue in QUEUES:
            try:
                declared = channel.queue_declare(queue=queue, passive=True)
            except Exception:  # a queue no worker declared yet holds nothing
                depths[queue] = 0
                if conn.transport.driver_type == "amqp":  # the failed declare closed it
                    channel = conn.channel()
                continue
            depths[queue] = int(declared.message_count)
    return depths


class OmsCollector:
    """The OMS's own series (see the module docstring), read when scraped."""

    def collect(self) -> Iterator[Any]:
        errors = GaugeMetricFamily(
            "oms_metrics_unreadable",
            "1: this part of the scrape could not be read.",
            labels=["part"],
        )
        for part, produce in (
            ("tasks", self._tasks),
            ("queues", self._queues),
            ("outbox", self._outbox),
            ("processes", self._processes),
            *((gauge.name, lambda gauge=gauge: self._gauge(gauge)) for gauge in _gauges.values()),
        ):
            try:
                families = list(produce())
            except Exception as exc:
                logger.warning("Metrics: %s not read: %s", part, exc)
                errors.add_metric([part], 1)
                continue
            yield from families
        yield errors

    def _tasks(self) -> Iterator[Any]:
        summed = _tasks_summed()
        counts = CounterMetricFamily(
            "oms_celery_tasks", "Celery task runs by outcome.", labels=["task", "state"]
        )
        durations = HistogramMetricFamily(
            "oms_celery_task_duration_seconds", "How long Celery tasks ran.", labels=["task"]
        )
        for name, entry in sorted(summed.items()):
            for state in STATES:
                counts.add_metric([name, state], entry[state])
            cumulative, buckets = 0, []
            for bound, count in zip((*BUCKETS, float("inf")), entry["buckets"], strict=True):
                cumulative += count
                buckets.append(("+Inf" if bound == float("inf") else str(bound), cumulative))
            durations.add_metric([name], buckets=buckets, sum_value=entry["sum"])
        yield counts
        yield durations

    def _queues(self) -> Iterator[Any]:
        depth = GaugeMetricFamily(
            "oms_queue_depth", "Messages waiting in a broker queue.", labels=["queue"]
        )
        for queue, count in queue_depths().items():
            depth.add_metric([queue], count)
        yield depth

    def _outbox(self) -> Iterator[Any]:
        from oms.outbox import outbox_figures

        figures = outbox_figures()
        messages = GaugeMetricFamily(
            "oms_outbox_messages", "Outbox messages not done, by state.", labels=["state"]
        )
        messages.add_metric(["pending"], figures.pending)
        messages.add_metric(["running"], figures.running)
        messages.add_metric(["failed"], figures.failed)
        yield messages
        yield GaugeMetricFamily(
            "oms_outbox_oldest_due_seconds",
            "How long the oldest due outbox message has waited (0: none is due).",
            value=figures.oldest_pending_seconds or 0.0,
        )

    def _processes(self) -> Iterator[Any]:
        from oms.workers import processes_alive

        alive = GaugeMetricFamily(
            "oms_processes_alive", "Worker and beat processes beating.", labels=["role"]
        )
        counts = processes_alive()
        for role in ("worker", "beat"):
            alive.add_metric([role], counts.get(role, 0))
        yield alive

    def _gauge(self, gauge: Gauge) -> Iterator[Any]:
        family = GaugeMetricFamily(gauge.name, gauge.documentation, labels=list(gauge.labels))
        for labels, value in gauge.read():
            family.add_metric(list(labels), value)
        yield family


_oms_registry = CollectorRegistry(auto_describe=False)
_oms_registry.register(OmsCollector())


def metrics_text() -> bytes:
    """django-prometheus's series (this process, or all of gunicorn's) and the OMS's."""
    import os

    from prometheus_client import REGISTRY, multiprocess

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        process = generate_latest(registry)
    else:
        process = generate_latest(REGISTRY)
    return process + generate_latest(_oms_registry)


# --- the page ---------------------------------------------------------------------------------


def metrics_allowed(request: HttpRequest) -> bool:
    token = settings.OMS_METRICS_TOKEN
    given = request.META.get("HTTP_AUTHORIZATION", "")
    if (
        token
        and given.startswith("Bearer ")
        and hmac.compare_digest(given[len("Bearer ") :].strip().encode(), token.encode())
    ):
        return True
    from oms.clientip import address_in, client_ip

    return address_in(client_ip(request), settings.OMS_METRICS_ALLOWED_IPS)


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not metrics_allowed(request):
        from oms.api.exceptions import problem_json

        response = problem_json(
            status_code=403,
            code="metrics_forbidden",
            title="Metrics are not public.",
            detail="Send Authorization: Bearer <OMS_METRICS_TOKEN>, or ask from an address "
            "in OMS_METRICS_ALLOWED_IPS.",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
