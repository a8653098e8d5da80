from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from celery import Celery
from rest_framework.test import APIClient

from oms.celery import app as celery_app
from oms.celery import ensure_broker_folders
from oms.roles import CUSTOMER_CARE, INTEGRATOR, MANAGER, WAREHOUSE
from tests.factories import TokenFactory, UserFactory

# Tasks that tests enqueue after a commit go to an in-memory broker, never to a broker that a
# running `make run` worker would consume against its own database. tests/integration puts the
# configured broker back to run a real worker on it. The transport class goes with the URL
# (Kombu would use it whatever the URL says): the embedded broker's is set aside too. (Both
# are kept in the environment: pytest-xdist's workers inherit the controller's "memory://".)
CONFIGURED_BROKER_URL = os.environ.setdefault(
    "OMS_TEST_CONFIGURED_BROKER_URL", str(celery_app.conf.broker_url)
)
CONFIGURED_BROKER_TRANSPORT = (
    os.environ.setdefault(
        "OMS_TEST_CONFIGURED_BROKER_TRANSPORT", celery_app.conf.broker_transport or ""
    )
    or None
)
os.environ["CELERY_BROKER_URL"] = "memory://"
celery_app.conf.broker_url = "memory://"
celery_app.conf.broker_transport = None


@pytest.fixture(scope="session", autouse=True)
def _cache_per_worker(worker_id: str) -> None:
    """pytest-xdist's workers share one Redis database: each gets its own key prefix, so that
    one worker forgetting its rate-limit counters never touches another's. (A run without
    xdist keeps the configured prefix: its integration tests share the cache with workers.)"""
    from django.conf import settings
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    if worker_id != "master":
        for alias, config in settings.CACHES.items():
            prefix = f"{config.get('KEY_PREFIX', '')}test-{worker_id}"
            config["KEY_PREFIX"] = prefix
            caches[alias].key_prefix = prefix
    # Django's RedisCache.clear() is FLUSHDB: one worker's `cache.clear()` would wipe the other
    # worker's keys too, the reference-data version among them, and that worker's next look-up
    # would reload every cache in the middle of a statement-counting test (it flaked in CI).
    RedisCache.clear = _clear_own_keys  # type: ignore[method-assign]


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing() -> None:
    """Passwords in tests are hashed with MD5: production's PBKDF2 (a million rounds) costs about
    0.4 s of CPU per factory user or login, minutes of every run. What the suite tests of
    passwords (lockout, login, roles) holds with any hasher; production settings are untouched."""
    from django.test.utils import override_settings

    override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]).enable()


def _clear_own_keys(backend: Any) -> None:
    pattern = backend.make_key("*")
    client = backend._cache.get_client(pattern, write=True)
    keys = list(client.scan_iter(match=pattern, count=1000))
    if keys:
        client.delete(*keys)


def cache_clear() -> None:
    """Empty this test process's cache: only its own keys (with Redis, FLUSHDB would empty the
    database every xdist worker shares, counters of the other's tests included)."""
    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    for alias in caches:
        backend = caches[alias]
        if isinstance(backend, RedisCache):
            _clear_own_keys(backend)
        else:
            backend.clear()


@pytest.fixture(autouse=True)
def _fresh_rate_limits() -> None:
    """Every test starts with unspent budgets (all test clients share 127.0.0.1) and re-reads
    users' roles (SQLite reuses the ids of rolled-back users)."""
    from oms import ratelimit, refdata
    from oms.api.throttling import roles_forget

    ratelimit.reset()
    roles_forget()
    refdata.forget()


@pytest.fixture(autouse=True)
def fake_payments():
    """Refunds are paid by the in-memory fake provider (tests/returns/fakes.py) unless a test
    asks for the real resolution per channel (`real_payments`)."""
    from returns.payments import payment_provider_override
    from tests.returns.fakes import FakePaymentAdapter

    fake = FakePaymentAdapter()
    previous = payment_provider_override(fake)
    yield fake
    payment_provider_override(previous)


@pytest.fixture
def real_payments(fake_payments):
    """Refunds go to the provider of the order's channel (channel, stripe, manual)."""
    from returns.payments import payment_provider_override

    payment_provider_override(None)


def point_celery_at(
    url: str, transport: str | None, folder: Path, monkeypatch: pytest.MonkeyPatch
) -> Celery:
    """The app sends its tasks to the broker at `url` until the test ends; a filesystem broker
    keeps its files under `folder`, away from a `make run` worker on the same machine."""
    monkeypatch.setenv("CELERY_BROKER_URL", url)
    monkeypatch.setitem(celery_app.conf, "broker_url", url)
    monkeypatch.setitem(celery_app.conf, "broker_transport", transport)
    monkeypatch.setattr(celery_app, "_pool", None)
    monkeypatch.setattr(celery_app.amqp, "_producer_pool", None)
    if url.startswith("filesystem://"):
        options = dict(celery_app.conf.broker_transport_options or {})
        for key in ("data_folder_in", "control_folder", "processed_folder"):
            options[key] = str(folder / key.split("_")[0] / key)
        options["data_folder_out"] = options["data_folder_in"]
        options.setdefault("polling_interval", 0.1)
        monkeypatch.setitem(celery_app.conf, "broker_transport_options", options)
        ensure_broker_folders()
    fresh_start(celery_app)
    return celery_app


@contextlib.contextmanager
def in_process_worker(app: Celery, queues: list[str]) -> Iterator[Any]:
    """A Celery worker (solo pool) in a thread of this process, consuming `queues`.

    Celery's start_worker leaves `worker.state.should_terminate` at 0 when the thread does not
    stop in time; every later embedded worker then stops before it is ready, and start_worker
    waits for its readiness forever (seen on a loaded CI machine: one failure, then a hang).
    The flag is reset first, and the thread gets a minute to finish its task."""
    from celery.contrib.testing.worker import start_worker
    from celery.worker import state

    state.should_terminate = None
    try:
        with start_worker(
            app,
            pool="solo",
            perform_ping_check=False,
            shutdown_timeout=60,
            loglevel="WARNING",
            queues=queues,
        ) as worker:
            yield worker
    finally:
        state.should_terminate = None


def fresh_start(app: Celery) -> None:
    """Each worker test starts from an empty broker and a relay that is neither paused nor
    holding a connection from an earlier test (a fault test restarts RabbitMQ; its leftover
    retries and redeliveries are not this test's)."""
    from oms import outbox

    outbox._drop_connection()
    outbox._paused_until = 0.0
    with contextlib.suppress(Exception):
        conn = app.connection_for_write(
            connect_timeout=2, transport_options={"max_retries": 1, "socket_timeout": 4}
        )
        try:
            app.control.purge(connection=conn)
        finally:
            conn.release()


#: A worker test that has not finished in this time is stuck (each takes well under 2 minutes):
#: it fails with the stacks of all threads (the in-process worker's included) instead of
#: stalling the run.
INTEGRATION_TIMEOUT_SECONDS = 420
#: The engines that are PostgreSQL: Django's, and the project's own (oms.db.postgresql).
POSTGRESQL_ENGINES = ("django.db.backends.postgresql", "oms.db.postgresql")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `postgres` need PostgreSQL: they are skipped on any other database.
    Worker tests get a timeout of their own."""
    from django.conf import settings

    for item in items:
        if item.get_closest_marker("integration") and not item.get_closest_marker("timeout"):
            item.add_marker(pytest.mark.timeout(INTEGRATION_TIMEOUT_SECONDS, method="thread"))
    if settings.DATABASES["default"]["ENGINE"] in POSTGRESQL_ENGINES:
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
