from __future__ import annotations

from typing import Any

import pytest

from tests.fulfilment import conftest as fulfilment
from tests.fulfilment.conftest import network
from tests.outbox import run_outbox

__all__ = ["network", "order", "put", "recorded"]

RECORD = "webhooks.event_record"


def recorded() -> int:
    """Run the pending `webhooks.event_record` messages as the worker would: the changes so far
    are recorded as events (and their deliveries written). Returns how many ran."""
    return run_outbox(RECORD)


def put(network: Any, location: str, sku: str, quantity: int) -> None:
    """Receive stock, then let the worker record its event."""
    fulfilment.put(network, location, sku, quantity)
    recorded()


def order(*args: Any, **kwargs: Any) -> Any:
    """Capture (and route) an order, then let the worker record its events."""
    found = fulfilment.order(*args, **kwargs)
    recorded()
    return found


@pytest.fixture(autouse=True)
def _private_receivers(settings):
    """The tests' receivers listen on 127.0.0.1 (pytest-httpserver)."""
    settings.OMS_WEBHOOKS_ALLOW_PRIVATE = True
    settings.DEBUG = True
