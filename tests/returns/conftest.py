from __future__ import annotations

import importlib
from decimal import Decimal

import pytest

from fulfilment.models import Shipment
from fulfilment.services import shipment_pack, shipment_pick, shipment_ship
from returns.models import ReturnReason
from tests.fulfilment.conftest import network, order, put

__all__ = ["network"]


def ship_all(o):
    """Pick, pack and ship every shipment of the order (captured and routed already)."""
    for shipment in Shipment.objects.filter(order=o):
        shipment_pick(
            shipment=shipment,
            lines=[(ln.order_line_id, ln.quantity) for ln in shipment.lines.all()],
        )
        shipment_pack(shipment=shipment, parcels=[{"weight_grams": 500}])
        shipment_ship(shipment=shipment, carrier="dhl", tracking_number=f"T{shipment.pk}")
    o.refresh_from_db()
    return o


@pytest.fixture
def reasons(db):
    """The default reasons (a data migration creates them; a transactional test's flush
    removes them, so they are made again here), changed_mind with a 10 % fee."""
    defaults = importlib.import_module("returns.migrations.0003_default_reasons")
    for code, label, fee in defaults.DEFAULT_REASONS:
        ReturnReason.objects.get_or_create(
            code=code, defaults={"label": label, "restocking_fee_percent": fee}
        )
    changed_mind, _ = ReturnReason.objects.update_or_create(
        code="changed_mind",
        defaults={"label": "Changed my mind", "restocking_fee_percent": Decimal("10")},
    )
    damaged, _ = ReturnReason.objects.update_or_create(
        code="damaged", defaults={"label": "Arrived damaged", "restocking_fee_percent": 0}
    )
    return {"changed_mind": changed_mind, "damaged": damaged}


@pytest.fixture
def shipped(network, reasons):
    """A paid order of 2 A and 1 B (10.00 each), shipped from Berlin."""
    put(network, "BER", "A", 5)
    put(network, "BER", "B", 5)
    o = ship_all(order("HAMBURG", {"A": 2, "B": 1}))
    assert o.status == "shipped"
    lines = {ln.sku_code: ln for ln in o.lines.all()}
    return o, lines


@pytest.fixture
def eager(monkeypatch):
    """Tasks enqueued after a commit run at once (and their errors surface in the test)."""
    from oms.celery import app as celery_app

    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    monkeypatch.setitem(celery_app.conf, "task_eager_propagates", True)


@pytest.fixture(autouse=True)
def locmem_email(settings, monkeypatch):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.DEFAULT_FROM_EMAIL = "shop@example.com"
    settings.OMS_PUBLIC_URL = "https://shop.example"


def delivered_days_ago(o, days: int) -> None:
    """Pretend the order's parcels arrived `days` ago."""
    from datetime import timedelta

    from django.utils import timezone

    moment = timezone.now() - timedelta(days=days)
    Shipment.objects.filter(order=o).update(shipped_at=moment, delivered_at=moment)
