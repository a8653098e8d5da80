"""The OMS project package: wiring (settings, urls, Celery) and the shared kernel."""

from .celery import app as celery_app

__all__ = ["celery_app"]
