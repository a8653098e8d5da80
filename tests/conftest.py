from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection
from rest_framework.test import APIClient

from oms.roles import CUSTOMER_CARE, INTEGRATOR, MANAGER, WAREHOUSE
from tests.factories import TokenFactory, UserFactory


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


@pytest.fixture
def on_postgres() -> bool:
    return connection.vendor == "postgresql"
