from __future__ import annotations

import os
from collections.abc import Callable

import pytest
from rest_framework.test import APIClient

from oms.celery import app as celery_app
from oms.roles import CUSTOMER_CARE, INTEGRATOR, MANAGER, WAREHOUSE
from tests.factories import TokenFactory, UserFactory

# Tasks that tests enqueue after a commit go to an in-memory broker, never to a broker that a
# running `make run` worker would consume against its own database. tests/integration puts the
# configured broker back to run a real worker on it.
CONFIGURED_BROKER_URL = str(celery_app.conf.broker_url)
os.environ["CELERY_BROKER_URL"] = "memory://"
celery_app.conf.broker_url = "memory://"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `postgres` need PostgreSQL: they are skipped on any other database."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL)")
    for item in items:
        if item.get_closest_marker("postgres"):
            item.add_marker(skip)


def token_client(*roles: str, superuser: bool = False, staff: bool = False) -> APIClient:
    user = UserFactory(roles=list(roles), is_superuser=superuser, is_staff=staff or superuser)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {TokenFactory(user=user).key}")
    client.user = user  # type: ignore[attr-defined]
    return client


@pytest.fixture
def api_client_for(db: None) -> Callable[..., APIClient]:
    return token_client


@pytest.fixture
def manager_api(db: None) -> APIClient:
    return token_client(MANAGER)


@pytest.fixture
def integrator_api(db: None) -> APIClient:
    return token_client(INTEGRATOR)


@pytest.fixture
def warehouse_api(db: None) -> APIClient:
    return token_client(WAREHOUSE)


@pytest.fixture
def care_api(db: None) -> APIClient:
    return token_client(CUSTOMER_CARE)


@pytest.fixture
def anonymous_api() -> APIClient:
    return APIClient()
