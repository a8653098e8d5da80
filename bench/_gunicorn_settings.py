"""Settings of the gunicorn server that bench/orders_api.py starts: oms.settings with persistent
database connections (CONN_MAX_AGE), as production runs them (ARCHITECTURE.md, "Benchmarks").

oms/settings.py reads no CONN_MAX_AGE from the environment (DATABASE_URL is parsed with
conn_max_age=0), so the benchmark's server uses this module as DJANGO_SETTINGS_MODULE, with
bench/ on its Python path. Not a benchmark (`make bench` skips bench/_*.py).
"""

from oms.settings import *  # noqa: F403
from oms.settings import DATABASES

DATABASES["default"]["CONN_MAX_AGE"] = 60
