"""Error reports (Sentry) and traces (OpenTelemetry), each off until its one variable is set.

Invariants: with SENTRY_DSN empty nothing of Sentry is imported or started, and with
OTEL_EXPORTER_OTLP_ENDPOINT empty nothing of OpenTelemetry; a set variable whose package is
missing stops the process with a message saying what to install (the container image has both).
Sentry gets no personal data (its default: no user, no cookies, no bodies) and URLs' passwords
masked as our own error reports do. Called once, from the settings, in every process (web,
worker, beat).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured

_started: dict[str, Any] = {}


def telemetry_start(
    *,
    sentry_dsn: str,
    sentry_environment: str,
    sentry_traces_sample_rate: float,
    otlp_endpoint: str,
    service_name: str,
) -> None:
    if sentry_dsn and "sentry" not in _started:
        _started["sentry"] = _sentry_start(
            sentry_dsn, sentry_environment, sentry_traces_sample_rate
        )
    if otlp_endpoint and "otel" not in _started:
        _started["otel"] = _otel_start(otlp_endpoint, service_name)


def telemetry_started() -> list[str]:
    """Which of "sentry" and "otel" this process started."""
    return sorted(_started)


def _missing(package: str, variable: str, install: str) -> ImproperlyConfigured:
    return ImproperlyConfigured(
        f"{variable} is set but {package} is not installed: pip install {install}."
    )


def _sentry_start(dsn: str, environment: str, traces_sample_rate: float) -> Any:
    try:
        import sentry_sdk
        from sentry_sdk.integrations.celery import CeleryIntegration
        from sentry_sdk.integrations.django import DjangoIntegration
    except ImportError:
        raise _missing("sentry-sdk", "SENTRY_DSN", "sentry-sdk") from None

    def masked(event: Any, hint: Any) -> Any:
        from oms.debug import url_passwords_masked

        for exception in (event.get("exception") or {}).get("values") or []:
            if isinstance(exception.get("value"), str):
                exception["value"] = url_passwords_masked(exception["value"])
        return event

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        traces_sample_rate=traces_sample_rate,
        integrations=[DjangoIntegration(), CeleryIntegration(monitor_beat_tasks=False)],
        before_send=masked,
    )
    return sentry_sdk.get_client()


def _otel_start(endpoint: str, service_name: str) -> Any:
    try:
        from opentelemetry import trace
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.celery import CeleryInstrumentor
        from opentelemetry.instrumentation.django import DjangoInstrumentor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
    except ImportError:
        raise _missing("opentelemetry", "OTEL_EXPORTER_OTLP_ENDPOINT", "'oms[otel]'") from None

    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    # The exporter reads OTEL_EXPORTER_OTLP_ENDPOINT (and its headers) itself: the standard
    # variables of OpenTelemetry work as documented.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    DjangoInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    try:  # the database's spans, where the PostgreSQL driver is installed
        import psycopg  # noqa: F401
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    except ImportError:
        return provider
    PsycopgInstrumentor().instrument(enable_commenter=False)
    return provider
