from __future__ import annotations

import pytest

from tests.fulfilment.conftest import network, order, put

__all__ = ["network", "order", "put"]


@pytest.fixture(autouse=True)
def _private_receivers(settings):
    """The tests' receivers listen on 127.0.0.1 (pytest-httpserver)."""
    settings.OMS_WEBHOOKS_ALLOW_PRIVATE = True
    settings.DEBUG = True
