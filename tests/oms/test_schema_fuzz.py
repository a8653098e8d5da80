"""Schemathesis over every operation of the OpenAPI schema, on the real app and the test
database: no server error, every status, content type, header and body as the schema says, and
input that breaks the schema refused.

Bounded and reproducible: a fixed number of examples per operation, derandomized. Half the
calls aim at objects that exist (a shipped order with a return and a refund, an open order, a
channel, a location), so that answers with real data are checked against the schema too, not
only 404s. `positive_data_acceptance` is left out on purpose: input the schema allows is still
refused when it breaks a rule the schema cannot say (an unknown SKU, a refund over what was
paid, a currency code that no country uses); those answers are checked like any other (a
documented 400 with problem JSON).
"""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from oms.wsgi import application
from returns.services import refund_create, return_create
from tests.factories import TokenFactory, UserFactory
from tests.fulfilment.conftest import network, order, put
from tests.returns.conftest import reasons, ship_all

__all__ = ["network", "reasons"]

RAW = json.loads(
    OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True))
)
schema = schemathesis.openapi.from_dict(RAW)
schema.app = application

EXAMPLES = 20


@pytest.fixture
def seeded(network: dict[str, Any], reasons: Any, settings: Any) -> Any:
    """A superuser's token, and objects for the calls that aim at existing ones."""
    # Schemathesis also calls without credentials, more often than an anonymous client may.
    settings.OMS_API_RATE_ANONYMOUS = "100000/min"
    user = UserFactory(is_superuser=True, is_staff=True)
    for sku in ("A", "B"):
        put(network, "BER", sku, 20)
    shipped = ship_all(order("HAMBURG", {"A": 2, "B": 1}))
    line = shipped.lines.first()
    ret = return_create(
        order=shipped, lines=[{"order_line": line.pk, "quantity": 1, "reason": "damaged"}]
    )
    refund = refund_create(order=shipped, amount=Decimal("5.00"), reason="goodwill")
    open_order = order("BERLIN", {"A": 1})
    ids = {
        "orders": [shipped.pk, open_order.pk],
        "shipments": [open_order.shipments.first().pk, shipped.shipments.first().pk],
        "returns": [ret.pk],
        "refunds": [refund.pk],
        "channels": [network["channel"].pk],
        "locations": [network["locations"]["BER"].pk],
        "skus": [network["skus"]["A"].pk],
        "customers": [shipped.customer_id],
    }
    # The in-process WSGI handler would close the test's connection after each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield {
        "token": TokenFactory(user=user).key,
        "ids": {name: itertools.cycle(values) for name, values in ids.items()},
    }
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def aim(case: Any, ids: dict[str, Any], turn: int) -> None:
    """Every other call of an operation on one object names an object that exists."""
    if "id" not in (case.path_parameters or {}) or turn % 2:
        return
    collection = case.operation.path.removeprefix("/api/v1/").split("/")[0]
    if collection in ids:
        case.path_parameters["id"] = next(ids[collection])


_turns = itertools.count()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
def test_every_operation_keeps_to_the_schema(case: Any, seeded: dict[str, Any]) -> None:
    aim(case, seeded["ids"], next(_turns))
    case.call_and_validate(
        headers={"Authorization": f"Token {seeded['token']}"},
        excluded_checks=[positive_data_acceptance],
    )
