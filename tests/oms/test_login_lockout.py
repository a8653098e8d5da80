"""The back-office login locks a username out from an address after repeated failures."""

from __future__ import annotations

import datetime as dt

import pytest
from axes.models import AccessAttempt
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from oms.roles import INTEGRATOR, MANAGER
from tests.factories import TokenFactory, UserFactory

PASSWORD = "correct horse battery staple"
LOGIN = "/admin/login/?next=/admin/"


@pytest.fixture
def manager(db):
    return UserFactory(username="boss", roles=[MANAGER], is_staff=True)


def attempt(client, password: str, *, username: str = "boss", address: str = "198.51.100.20"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


def fail(client, times: int, **kwargs):
    return [attempt(client, "wrong", **kwargs) for _ in range(times)]


def logged_in(response) -> bool:
    return response.status_code == 302 and response["Location"] == "/admin/"


def test_ten_failures_lock_the_username_out_from_that_address_even_with_the_password(
    client, manager, settings
):
    assert settings.AXES_FAILURE_LIMIT == 10
    answers = fail(client, 10)
    assert [a.status_code for a in answers[:9]] == [200] * 9  # the form again, with an error
    locked = answers[9]
    assert locked.status_code == 429
    right = attempt(client, PASSWORD)
    assert right.status_code == 429
    assert right["Retry-After"] == str(15 * 60)
    page = right.content.decode()
    assert "Too many failed logins" in page
    assert "Try again in 15 minutes" in page
    assert "_auth_user_id" not in client.session


def test_the_lockout_is_per_username_and_address(client, manager):
    UserFactory(username="clerk", roles=[MANAGER], is_staff=True)
    fail(client, 10)
    assert attempt(client, PASSWORD).status_code == 429
    assert logged_in(attempt(APIClient(), PASSWORD, address="198.51.100.21"))
    assert logged_in(attempt(APIClient(), PASSWORD, username="clerk"))


def test_a_success_before_the_limit_clears_the_count(client, manager):
    fail(client, 9)
    assert logged_in(attempt(client, PASSWORD))
    client.logout()
    fail(client, 9)
    assert logged_in(attempt(client, PASSWORD))


def test_the_lockout_ends_after_the_cool_off(client, manager):
    fail(client, 10)
    assert attempt(client, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - dt.timedelta(minutes=16))
    assert logged_in(attempt(client, PASSWORD))


def test_axes_reset_lifts_the_lockout(client, manager):
    fail(client, 10)
    assert attempt(client, PASSWORD).status_code == 429
    call_command("axes_reset_username", "boss")
    assert logged_in(attempt(client, PASSWORD))
    client.logout()
    fail(client, 10)
    call_command("axes_reset")
    assert logged_in(attempt(client, PASSWORD))


def test_the_address_behind_a_trusted_proxy_is_the_forwarded_one(client, manager, settings):
    settings.OMS_TRUSTED_PROXIES = ["10.0.0.0/8"]
    for _ in range(10):
        client.post(
            LOGIN,
            {"username": "boss", "password": "wrong"},
            REMOTE_ADDR="10.0.0.5",
            HTTP_X_FORWARDED_FOR="203.0.113.50",
        )
    assert set(AccessAttempt.objects.values_list("ip_address", flat=True)) == {"203.0.113.50"}
    other = client.post(
        LOGIN,
        {"username": "boss", "password": PASSWORD},
        REMOTE_ADDR="10.0.0.5",
        HTTP_X_FORWARDED_FOR="203.0.113.51",
    )
    assert logged_in(other)


def test_tests_logins_and_api_tokens_are_not_touched(client, manager):
    fail(client, 10)
    assert attempt(client, PASSWORD).status_code == 429
    # client.login / force_login authenticate without a request: neither counted nor refused.
    assert client.login(username="boss", password=PASSWORD)
    client.logout()
    client.force_login(manager)
    assert client.get("/admin/").status_code == 200
    # A token is not a login: the API answers the locked-out user.
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {TokenFactory(user=manager).key}")
    assert api.get("/api/v1/skus/").status_code == 200
    integrator = UserFactory(username="robot", roles=[INTEGRATOR])
    api.credentials(HTTP_AUTHORIZATION=f"Token {TokenFactory(user=integrator).key}")
    for _ in range(12):
        api.get("/api/v1/skus/", HTTP_AUTHORIZATION="Token wrong")
    assert AccessAttempt.objects.filter(username="robot").count() == 0
