"""Typed readers for settings taken from the environment.

Invariant: a malformed value stops the process with a message naming the variable, rather than
starting with a silently wrong setting.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "", environ: Mapping[str, str] | None = None) -> str:
    environ = os.environ if environ is None else environ
    return environ.get(name, default)


def env_bool(name: str, default: bool, environ: Mapping[str, str] | None = None) -> bool:
    environ = os.environ if environ is None else environ
    raw = environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {raw!r}")


def env_int(name: str, default: int, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    raw = environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None


def env_list(name: str, default: list[str], environ: Mapping[str, str] | None = None) -> list[str]:
    environ = os.environ if environ is None else environ
    raw = environ.get(name)
    if raw is None:
        return list(default)
    return [item.strip() for item in raw.split(",") if item.strip()]


def database_config(url: str, *, sqlite_default: Path, pgbouncer: bool = False) -> dict[str, Any]:
    """Django DATABASES['default'] for a DATABASE_URL, or the SQLite file when url is empty.

    With `pgbouncer` (PostgreSQL behind PgBouncer in transaction mode) querysets iterate without
    server-side cursors: a cursor lives in one server connection, which the next transaction may
    not get. (Django's psycopg binds parameters on the client, so no statement is prepared.)

    SQLite runs in WAL mode with IMMEDIATE transactions and a busy timeout, so that concurrent
    writers queue for the write lock instead of failing with "database is locked" mid-transaction.
    """
    if not url:
        url = f"sqlite:///{sqlite_default}"
    try:
        config: dict[str, Any] = dict(dj_database_url.parse(url, conn_max_age=0))
    except ValueError as exc:
        raise ImproperlyConfigured(f"DATABASE_URL is not a database URL: {exc}") from None
    if config["ENGINE"] == "django.db.backends.sqlite3":
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": (
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
            ),
        }
        name = str(config["NAME"])
        config["TEST"] = {"NAME": str(Path(name).with_name("test_" + Path(name).name))}
    else:
        if config["ENGINE"] == "django.db.backends.postgresql":
            config["ENGINE"] = "oms.db.postgresql"  # Django's, bulk INSERTs of JSON faster
        config["CONN_HEALTH_CHECKS"] = True
        if pgbouncer:
            config["DISABLE_SERVER_SIDE_CURSORS"] = True
    return config


#: Units a rate's period may be written in ("100/min", "20/15m", "5000/hour").
_PERIODS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
_OFF = {"off", "none", "0"}


def parse_rate(value: str) -> tuple[int, int] | None:
    """ "N/period" as (N, seconds): "6000/min", "20/15m", "30/hour"; "off" (or "0") is None.

    Raises ValueError for anything else.
    """
    text = value.strip().lower().replace(" ", "")
    if text in _OFF:
        return None
    count, sep, period = text.partition("/")
    if not sep or not count.isdigit() or int(count) < 1:
        raise ValueError(f"{value!r} is not a rate like 100/min")
    digits = ""
    while period and period[0].isdigit():
        digits, period = digits + period[0], period[1:]
    plural = period[:-1] if period.endswith("s") else ""
    unit = plural if len(plural) > 1 and plural in _PERIODS else period  # "hours", not "ms"
    if unit not in _PERIODS or (digits and int(digits) < 1):
        raise ValueError(f"{value!r} is not a rate like 100/min")
    return int(count), int(digits or 1) * _PERIODS[unit]


def env_rate(name: str, default: str, environ: Mapping[str, str] | None = None) -> str:
    """A rate limit ("6000/min", "off"), checked at start-up and kept as written."""
    environ = os.environ if environ is None else environ
    raw = environ.get(name)
    value = default if raw is None or raw.strip() == "" else raw.strip()
    try:
        parse_rate(value)
    except ValueError:
        raise ImproperlyConfigured(
            f"{name} must be a rate such as 100/min, 20/15m or off, not {value!r}"
        ) from None
    return value
