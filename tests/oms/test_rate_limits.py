"""Budgets: per API token by role, per client address for the public pages and webhooks.

Small limits are set per test; the clock of the windows is moved on to show a budget coming
back when its window ends (the counters themselves are real: local memory on SQLite runs,
Redis when REDIS_URL is set).
"""

from __future__ import annotations

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from oms import ratelimit
from oms.clientip import address_key, client_ip
from oms.roles import CUSTOMER_CARE, INTEGRATOR, MANAGER, WAREHOUSE
from tests.conftest import token_client
from tests.fulfilment.conftest import network, order, put
from tests.returns.conftest import reasons, ship_all

__all__ = ["network", "reasons"]

SKUS = "/api/v1/skus/"


@pytest.fixture
def clock(monkeypatch):
    """The windows' clock, at a fixed moment 10 s into a minute (and an hour)."""
    now = [1_800_000_000.0 + 10]  # 1_800_000_000 is a multiple of 3600

    monkeypatch.setattr(ratelimit, "clock", lambda: now[0])
    return now


@pytest.fixture
def shipped_order_token(network, reasons) -> str:
    put(network, "BER", "A", 5)
    return ship_all(order("HAMBURG", {"A": 1})).tracking_token


def headers(response) -> tuple[int, int, int]:
    return (
        int(response["RateLimit-Limit"]),
        int(response["RateLimit-Remaining"]),
        int(response["RateLimit-Reset"]),
    )


# --- the API budget per token ------------------------------------------------------------------


def test_every_api_answer_carries_the_budget_and_a_spent_one_is_429_problem_json(
    db, settings, clock
):
    settings.OMS_API_RATE_INTEGRATOR = "3/min"
    api = token_client(INTEGRATOR)
    seen = [headers(api.get(SKUS)) for _ in range(3)]
    assert seen == [(3, 2, 50), (3, 1, 50), (3, 0, 50)]

    refused = api.get(SKUS)
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "throttled"
    assert refused.json()["status"] == 429
    assert refused["Retry-After"] == "50"
    assert headers(refused) == (3, 0, 50)
    # Spent for POSTs too, and nothing was written.
    assert api.post(SKUS, {"code": "X-1", "name": "X"}, format="json").status_code == 429


def test_the_budget_is_per_token_and_comes_back_with_the_next_window(db, settings, clock):
    settings.OMS_API_RATE_INTEGRATOR = "2/min"
    first, second = token_client(INTEGRATOR), token_client(INTEGRATOR)
    for _ in range(2):
        assert first.get(SKUS).status_code == 200
    assert first.get(SKUS).status_code == 429
    assert second.get(SKUS).status_code == 200  # another token, its own budget

    clock[0] += 50  # the next minute
    response = first.get(SKUS)
    assert response.status_code == 200
    assert headers(response) == (2, 1, 60)


@pytest.mark.parametrize(
    ("roles", "superuser", "limit"),
    [
        ([MANAGER], False, 11),
        ([INTEGRATOR], False, 12),
        ([WAREHOUSE], False, 13),
        ([CUSTOMER_CARE], False, 14),
        ([], False, 15),
        ([], True, 11),  # a superuser has the Manager's
        ([MANAGER, WAREHOUSE], False, 13),  # the most generous of the roles
    ],
)
def test_the_budget_follows_the_role(db, settings, clock, roles, superuser, limit):
    settings.OMS_API_RATE_MANAGER = "11/min"
    settings.OMS_API_RATE_INTEGRATOR = "12/min"
    settings.OMS_API_RATE_WAREHOUSE = "13/min"
    settings.OMS_API_RATE_CUSTOMER_CARE = "14/min"
    settings.OMS_API_RATE_USER = "15/min"
    response = token_client(*roles, superuser=superuser).get(SKUS)
    assert headers(response)[:2] == (limit, limit - 1)


def test_refused_and_unknown_requests_spend_the_budget_and_say_so(db, settings, clock):
    settings.OMS_API_RATE_WAREHOUSE = "2/min"
    api = token_client(WAREHOUSE)
    forbidden = api.post("/api/v1/channels/", {"code": "x"}, format="json")
    assert forbidden.status_code == 403
    assert headers(forbidden)[:2] == (2, 1)
    missing = api.get("/api/v1/skus/999999/")
    assert missing.status_code == 404
    assert headers(missing)[:2] == (2, 0)
    assert api.get(SKUS).status_code == 429


def test_a_limit_set_off_counts_nothing(db, settings):
    settings.OMS_API_RATE_INTEGRATOR = "off"
    response = token_client(INTEGRATOR).get(SKUS)
    assert response.status_code == 200
    assert not response.has_header("RateLimit-Limit")


def test_requests_without_a_token_count_per_address(db, settings, clock):
    settings.OMS_API_RATE_ANONYMOUS = "2/min"
    here, there = APIClient(REMOTE_ADDR="198.51.100.7"), APIClient(REMOTE_ADDR="198.51.100.8")
    first = here.get(SKUS)
    assert first.status_code == 401
    assert headers(first)[:2] == (2, 1)
    assert here.get(SKUS).status_code == 401
    assert here.get(SKUS).status_code == 429
    assert there.get(SKUS).status_code == 401


def test_the_defaults_leave_a_busy_integrator_alone(db, settings):
    assert ratelimit.Rate.of(settings.OMS_API_RATE_INTEGRATOR) == ratelimit.Rate(6000, 60)
    assert ratelimit.Rate.of(settings.OMS_API_RATE_MANAGER) == ratelimit.Rate(6000, 60)
    api = token_client(INTEGRATOR)
    for _ in range(30):
        response = api.get(SKUS)
    assert response.status_code == 200
    assert headers(response)[:2] == (6000, 5970)


# --- the public pages, per client address ------------------------------------------------------


def test_unknown_tracking_tokens_spend_the_address_budget_then_every_page_is_429(
    client, settings, clock, shipped_order_token
):
    settings.OMS_RATE_TRACKING_NOT_FOUND = "3/hour"
    for n in range(3):
        assert client.get(f"/track/unknown-token-{n:06d}/").status_code == 404
    refused = client.get(f"/track/{shipped_order_token}/")  # even a real one
    assert refused.status_code == 429
    assert refused["Retry-After"] == str(3600 - 10)
    assert "text/html" in refused["Content-Type"]
    assert b"try again" in refused.content.lower()
    # Another address is not concerned.
    other = client.get(f"/track/{shipped_order_token}/", REMOTE_ADDR="203.0.113.9")
    assert other.status_code == 200
    # The next hour the address may look again.
    clock[0] += 3600
    assert client.get(f"/track/{shipped_order_token}/").status_code == 200


def test_tracking_pages_have_an_overall_budget_per_address(
    client, settings, clock, shipped_order_token
):
    settings.OMS_RATE_TRACKING = "2/min"
    first = client.get(f"/track/{shipped_order_token}/")
    assert first.status_code == 200
    assert headers(first)[:2] == (2, 1)
    assert client.get(f"/track/{shipped_order_token}/").status_code == 200
    assert client.get(f"/track/{shipped_order_token}/").status_code == 429
    assert client.get(f"/track/{shipped_order_token}/return/").status_code == 429


def test_return_form_posts_are_limited_per_address(client, settings, clock, shipped_order_token):
    settings.OMS_RATE_RETURN_FORM = "2/hour"
    url = f"/track/{shipped_order_token}/return/"
    for _ in range(2):
        assert client.post(url, {"comment": "nothing chosen"}).status_code == 400
    refused = client.post(url, {"comment": "nothing chosen"})
    assert refused.status_code == 429
    assert refused["Retry-After"] == str(3600 - 10)
    assert client.get(url).status_code == 200  # reading the form is not a POST
    other = client.post(url, {"comment": "x"}, REMOTE_ADDR="203.0.113.10")
    assert other.status_code == 400


def test_webhooks_are_limited_per_address_with_problem_json(client, settings, clock, db):
    settings.OMS_RATE_WEBHOOKS = "2/min"
    url = "/webhooks/carriers/inhouse/"
    answers = [client.post(url, b"{}", content_type="application/json") for _ in range(3)]
    assert [a.status_code for a in answers[:2]] == [401, 401]  # unsigned: refused, but counted
    refused = answers[2]
    assert refused.status_code == 429
    assert refused["Content-Type"] == "application/problem+json"
    assert refused.json()["code"] == "throttled"
    assert refused["Retry-After"] == "50"
    channel = client.post(
        "/webhooks/channels/nope/", b"{}", content_type="application/json", REMOTE_ADDR="::1"
    )
    assert channel.status_code == 404  # another address: its own budget


def test_ratelimit_reset_forgets_an_address(client, settings, clock, db):
    settings.OMS_RATE_WEBHOOKS = "1/min"
    url = "/webhooks/carriers/inhouse/"
    assert client.post(url, b"{}", content_type="application/json").status_code == 401
    assert client.post(url, b"{}", content_type="application/json").status_code == 429
    call_command("ratelimit_reset", "--address", "127.0.0.1")
    assert client.post(url, b"{}", content_type="application/json").status_code == 401


def test_ratelimit_reset_forgets_a_user(db, settings, clock):
    settings.OMS_API_RATE_INTEGRATOR = "1/min"
    api = token_client(INTEGRATOR)
    assert api.get(SKUS).status_code == 200
    assert api.get(SKUS).status_code == 429
    call_command("ratelimit_reset", "--user", api.user.username)
    assert api.get(SKUS).status_code == 200


# --- the client's address ----------------------------------------------------------------------


class FakeRequest:
    def __init__(self, remote: str, forwarded: str | None = None) -> None:
        self.META = {"REMOTE_ADDR": remote}
        if forwarded is not None:
            self.META["HTTP_X_FORWARDED_FOR"] = forwarded


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(settings):
    settings.OMS_TRUSTED_PROXIES = []
    assert client_ip(FakeRequest("198.51.100.1", "203.0.113.5")) == "198.51.100.1"
    settings.OMS_TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(FakeRequest("198.51.100.1", "203.0.113.5")) == "198.51.100.1"


def test_behind_trusted_proxies_the_first_untrusted_hop_from_the_right_is_the_client(settings):
    settings.OMS_TRUSTED_PROXIES = ["10.0.0.0/8", "127.0.0.1"]
    # The client wrote "1.2.3.4" itself; 203.0.113.5 is who connected to our first proxy.
    request = FakeRequest("127.0.0.1", "1.2.3.4, 203.0.113.5, 10.1.2.3")
    assert client_ip(request) == "203.0.113.5"
    assert client_ip(FakeRequest("10.0.0.2", "")) == "10.0.0.2"
    assert client_ip(FakeRequest("10.0.0.2", "garbage, 10.9.9.9")) == "10.9.9.9"


def test_ipv6_clients_are_counted_by_their_64_network():
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:bbbb::9")
    assert address_key("2001:db8:1:2::1") != address_key("2001:db8:1:3::1")
    assert address_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert address_key("198.51.100.7") == "198.51.100.7"


def test_rates_are_checked_at_start_up():
    from django.core.exceptions import ImproperlyConfigured

    from oms.env import env_rate, parse_rate

    assert parse_rate("20/15m") == (20, 900)
    assert parse_rate("5000/hours") == (5000, 3600)
    assert parse_rate("off") is None
    with pytest.raises(ImproperlyConfigured, match="OMS_RATE_WEBHOOKS"):
        env_rate("OMS_RATE_WEBHOOKS", "1/min", {"OMS_RATE_WEBHOOKS": "lots"})
