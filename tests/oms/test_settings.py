"""Settings come from the environment; production refuses unsafe defaults."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from oms.env import database_config, env_bool, env_int, env_list

ROOT = Path(__file__).resolve().parents[2]

PRINT_SETTINGS = """
import json, django
django.setup()
from django.conf import settings as s
from oms.celery import app
print(json.dumps({
    "DEBUG": s.DEBUG,
    "ENGINE": s.DATABASES["default"]["ENGINE"],
    "DB_NAME": s.DATABASES["default"]["NAME"],
    "DB_OPTIONS": s.DATABASES["default"].get("OPTIONS", {}),
    "CACHE": s.CACHES["default"]["BACKEND"],
    "BROKER": app.conf.broker_url,
    "TRANSPORT": app.conf.broker_transport,
    "BASE": s.OMS_BASE_CURRENCY,
    "HOSTS": s.ALLOWED_HOSTS,
    "EMAIL": s.EMAIL_BACKEND,
    "PUBLIC_URL": s.OMS_PUBLIC_URL,
}))
"""


def run_python(code: str, env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    for name in (
        "DEBUG",
        "SECRET_KEY",
        "CELERY_BROKER_URL",
        "ALLOWED_HOSTS",
        "EMAIL_BACKEND",
        "OMS_EMAIL_LOG_FULL",
        "OMS_PUBLIC_URL",
    ):
        clean.pop(name, None)
    clean.update({"OMS_VAR_DIR": str(tmp_path), "DJANGO_SETTINGS_MODULE": "oms.settings"})
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def settings_for(env: dict[str, str], tmp_path: Path) -> dict[str, object]:
    result = run_python(PRINT_SETTINGS, env, tmp_path)
    assert result.returncode == 0, result.stderr
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def test_development_defaults_use_sqlite_filesystem_broker_and_one_line_email(tmp_path: Path):
    values = settings_for({"DEBUG": "1"}, tmp_path)
    assert values["DEBUG"] is True
    assert values["ENGINE"] == "django.db.backends.sqlite3"
    assert values["DB_NAME"] == str(tmp_path / "oms.sqlite3")
    options = values["DB_OPTIONS"]
    assert isinstance(options, dict)
    assert options["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in options["init_command"]
    assert options["timeout"] >= 5
    assert values["CACHE"].endswith("LocMemCache")
    assert str(values["BROKER"]).startswith("filesystem://")
    assert values["TRANSPORT"] == "oms.broker:Transport"
    assert values["BASE"] == "EUR"
    assert values["EMAIL"] == "oms.mail.LogEmailBackend"
    assert values["PUBLIC_URL"] == "http://127.0.0.1:8000"


def test_whole_e_mails_on_the_console_when_asked_and_links_follow_the_public_url(tmp_path):
    values = settings_for(
        {"DEBUG": "1", "OMS_EMAIL_LOG_FULL": "1", "OMS_PUBLIC_URL": "http://127.0.0.1:8100/"},
        tmp_path,
    )
    assert values["EMAIL"].endswith("console.EmailBackend")
    assert values["PUBLIC_URL"] == "http://127.0.0.1:8100"


def test_production_values_come_from_the_environment(tmp_path: Path):
    values = settings_for(
        {
            "DEBUG": "0",
            "SECRET_KEY": "x" * 60,
            "DATABASE_URL": "postgres://oms:secret@db.internal:5433/oms",
            "REDIS_URL": "redis://cache.internal:6379/1",
            "CELERY_BROKER_URL": "redis://broker.internal:6379/0",
            "ALLOWED_HOSTS": "oms.example.com, api.example.com",
            "OMS_BASE_CURRENCY": "usd",
        },
        tmp_path,
    )
    assert values["DEBUG"] is False
    assert values["ENGINE"] == "oms.db.postgresql"  # Django's, with faster bulk INSERTs of JSON
    assert values["DB_NAME"] == "oms"
    assert values["CACHE"].endswith("RedisCache")
    assert values["BROKER"] == "redis://broker.internal:6379/0"
    assert values["TRANSPORT"] is None  # Kombu would otherwise use it for the Redis URL
    assert values["HOSTS"] == ["oms.example.com", "api.example.com"]
    assert values["BASE"] == "USD"
    assert values["EMAIL"].endswith("smtp.EmailBackend")


def test_redis_url_alone_is_also_the_broker(tmp_path: Path):
    values = settings_for({"DEBUG": "1", "REDIS_URL": "redis://127.0.0.1:6379/3"}, tmp_path)
    assert values["BROKER"] == "redis://127.0.0.1:6379/3"
    assert values["TRANSPORT"] is None


def test_refuses_to_start_without_secret_key_when_debug_is_off(tmp_path: Path):
    result = run_python("import django; django.setup()", {"DEBUG": "0"}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


PRODUCTION = {
    "DEBUG": "0",
    # 50 random characters, as `python -c "import secrets; print(secrets.token_urlsafe(38))"`.
    "SECRET_KEY": "k7#Qz!v2Lr9^wX4pT8mB1nC6yH3jF5dS0aG-eU+iO7lK2qR9zV",
    "ALLOWED_HOSTS": "oms.example.com",
    "DATABASE_URL": "postgres://oms:secret@db.internal:5432/oms",
}


def run_manage(args: list[str], env: dict[str, str], tmp_path: Path):
    """manage.py itself, in a subprocess, with only `env` of the OMS variables."""
    code = (
        "import runpy, sys; sys.argv = ['manage.py', *sys.argv[1:]];"
        "runpy.run_path('manage.py', run_name='__main__')"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_"))}
    for name in ("DEBUG", "SECRET_KEY", "CELERY_BROKER_URL", "ALLOWED_HOSTS", "EMAIL_BACKEND"):
        clean.pop(name, None)
    clean.pop("DJANGO_SETTINGS_MODULE", None)
    clean.update({"OMS_VAR_DIR": str(tmp_path), **env})
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_with_production_values(tmp_path: Path):
    assert len(PRODUCTION["SECRET_KEY"]) == 50
    result = run_manage(["check", "--deploy", "--fail-level", "WARNING"], PRODUCTION, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr
    assert "DEVELOPMENT MODE" not in result.stderr


def test_hsts_preload_is_the_operators_choice(tmp_path: Path):
    """Left off, its reminder is silenced on purpose; turned on, nothing else is silenced."""
    result = run_manage(
        ["check", "--deploy", "--fail-level", "WARNING"],
        {**PRODUCTION, "SECURE_HSTS_PRELOAD": "1"},
        tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "(0 silenced)" in result.stdout
    short_hsts = run_manage(
        ["check", "--deploy", "--fail-level", "WARNING"],
        {**PRODUCTION, "SECURE_HSTS_SECONDS": "0"},
        tmp_path,
    )
    assert short_hsts.returncode != 0  # the other deployment checks still bite
    assert "security.W004" in short_hsts.stdout + short_hsts.stderr


def test_manage_py_without_secret_key_says_development_mode_once_on_stderr(tmp_path: Path):
    result = run_manage(["check"], {}, tmp_path)
    assert result.returncode == 0, result.stderr
    loud = [line for line in result.stderr.splitlines() if "DEVELOPMENT MODE" in line]
    assert loud == [
        "DEVELOPMENT MODE: DEBUG is on because SECRET_KEY is not set; "
        "never run like this in production"
    ]
    assert "DEVELOPMENT MODE" not in result.stdout


def test_manage_py_with_debug_off_and_no_secret_key_refuses_to_start(tmp_path: Path):
    result = run_manage(["check"], {"DEBUG": "0"}, tmp_path)
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr
    assert "DEVELOPMENT MODE" not in result.stderr


def test_env_readers_reject_malformed_values():
    assert env_bool("X", False, {"X": "yes"}) is True
    assert env_bool("X", True, {"X": "0"}) is False
    assert env_bool("X", True, {}) is True
    with pytest.raises(ImproperlyConfigured, match="X must be a boolean"):
        env_bool("X", False, {"X": "maybe"})
    assert env_int("N", 3, {"N": "12"}) == 12
    with pytest.raises(ImproperlyConfigured, match="N must be an integer"):
        env_int("N", 3, {"N": "twelve"})
    assert env_list("L", ["a"], {"L": " b, ,c "}) == ["b", "c"]
    assert env_list("L", ["a"], {}) == ["a"]


def test_database_config_rejects_an_unknown_scheme(tmp_path: Path):
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL"):
        database_config("nosuchdb://x/y", sqlite_default=tmp_path / "db.sqlite3")
