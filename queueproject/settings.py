"""Settings for the task queue service.

One file; every knob comes from the environment with a default that works on a
fresh clone. Queue settings live under TASK_QUEUE and read QUEUE_* variables.
docs/configuration.md lists every variable.
"""

import warnings
from pathlib import Path

import environ
from corsheaders.defaults import default_headers as cors_default_headers
from django.core.management.utils import get_random_secret_key
from django.utils.csp import CSP

from queueproject import database

BASE_DIR = Path(__file__).resolve().parent.parent
env = environ.Env()


def _local_secret_key() -> str:
    """A key generated once per checkout, so a fresh clone runs without configuration."""
    path = BASE_DIR / "var" / "secret_key"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(get_random_secret_key())
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _local_secret_key()
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "corsheaders",
    "rest_framework",
    "rest_framework.authtoken",  # legacy tokens, honoured until rotated (docs/security.md)
    "rest_framework_api_key",  # the API key row that tasks.ApiKey extends
    "django_filters",
    "drf_spectacular",
    "tasks",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Content-Security-Policy on every response (SECURE_CSP below).
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "queueproject.headers.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    # API guards, inside CORS so that browsers can read their answers: a 413 for
    # oversized bodies, a 503 when the database is down.
    "tasks.api.middleware.ApiGuardMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # 503 (not 500) while PostgreSQL is away; see queueproject/middleware.py.
    "queueproject.middleware.DatabaseUnavailableMiddleware",
    # Monitoring pages read from DATABASE_REPLICA_URL when it is set; see queueproject/middleware.py.
    "queueproject.middleware.ReplicaReadsMiddleware",
]

ROOT_URLCONF = "queueproject.urls"
WSGI_APPLICATION = "queueproject.wsgi.application"
ASGI_APPLICATION = "queueproject.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",  # the nonce of the admin's own inline <style>
            ],
        },
    },
]

# Threads per web process (read by queueproject/webserver.py too): requests in
# progress plus open /api/events streams.
WEB_THREADS = env.int("WEB_THREADS", default=12)

# Database: DATABASE_URL, or the embedded server when it is unset.
DATABASE_URL = database.resolve_url(BASE_DIR)
DATABASES = {
    "default": {
        **database.django_settings(DATABASE_URL),
        "CONN_MAX_AGE": env.int("DB_CONN_MAX_AGE", default=60),
        "CONN_HEALTH_CHECKS": True,
    }
}
# The web server runs each request in one of a pool of threads (granian's, up
# to WEB_THREADS per process), and Django keeps one connection per thread:
# persistent connections would pile up until PostgreSQL refuses clients ("too
# many clients already"). The WSGI (and ASGI) entry point therefore turns on
# psycopg's connection pool (DB_POOL), which returns connections at the end of
# each request. Workers keep their one persistent connection.
if env.bool("DB_POOL", default=False):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A request waits this long for a connection (all in use, or the database
    # away) before it fails with a 503; longer would hold clients on an outage.
    # After an outage the pool retries with a doubling delay; giving up after a
    # few seconds lets the next request open a fresh connection at once, instead
    # of waiting out a backoff that grew while the database was away.
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": 1, "max_size": env.int("DB_POOL_MAX_SIZE", default=8),
        "timeout": env.float("DB_POOL_TIMEOUT", default=3.0),
        "reconnect_timeout": 5.0,
        "check": database.check_pooled_connection,
    }
# An optional streaming replica for monitoring reads (tasks/replica.py,
# docs/scaling.md): the dashboard's lists, the task list and /api/stats read
# there while it is no more than QUEUE_REPLICA_MAX_LAG seconds behind.
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = {
        **DATABASES["default"], **database.django_settings(DATABASE_REPLICA_URL),
        # Same pool settings as the primary's, if any (a copy: Django fills OPTIONS in).
        "OPTIONS": {**database.django_settings(DATABASE_REPLICA_URL)["OPTIONS"],
                    **({"pool": DATABASES["default"]["OPTIONS"]["pool"]}
                       if "pool" in DATABASES["default"]["OPTIONS"] else {})},
        "TEST": {"MIRROR": "default"},
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Serve app static files straight from their folders, so `make run` needs no collectstatic
# (and WhiteNoise need not warn at every start that STATIC_ROOT was never collected).
WHITENOISE_USE_FINDERS = True
warnings.filterwarnings("ignore", message="No directory at: .*staticfiles", category=UserWarning)

# Behind a TLS-terminating proxy, set SECURE_PROXY_SSL_HEADER_ENABLED and SECURE_SSL_REDIRECT.
if env.bool("SECURE_PROXY_SSL_HEADER_ENABLED", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=SECURE_SSL_REDIRECT)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=SECURE_SSL_REDIRECT)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=False)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)

# Content-Security-Policy (Django's own, docs/security.md): the dashboard and the
# admin load scripts, styles and images from this site only; no inline script or
# style runs but the admin's nonced ones, no eval, no framing, forms post here only.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# The other headers a scanner looks for: nosniff, a referrer policy and COOP are
# Django's defaults; X-Frame-Options DENY comes from XFrameOptionsMiddleware.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
# The API is the only cross-origin surface; browsers may send the idempotency
# header and read Retry-After on 429 and 503.
CORS_URLS_REGEX = r"^/(api/.*|tasks.*|stats/?|health/?)$"
CORS_ALLOW_HEADERS = (*cors_default_headers, "idempotency-key")
CORS_EXPOSE_HEADERS = ["Retry-After"]

# Email: the `email` task type sends through the default mailer. EMAIL_BACKEND is
# console (default), smtp, file, locmem, or a dotted path to a backend class.
EMAIL_BACKENDS = {
    "console": "django.core.mail.backends.console.EmailBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
    "locmem": "django.core.mail.backends.locmem.EmailBackend",
}
_email_backend = EMAIL_BACKENDS.get(env.str("EMAIL_BACKEND", default="console"), env.str("EMAIL_BACKEND", default=""))
_email_options = {}
if _email_backend == EMAIL_BACKENDS["smtp"]:
    _email_options = {
        "host": env.str("EMAIL_HOST", default="localhost"),
        "port": env.int("EMAIL_PORT", default=587),
        "username": env.str("EMAIL_HOST_USER", default=""),
        "password": env.str("EMAIL_HOST_PASSWORD", default=""),
        "use_tls": env.bool("EMAIL_USE_TLS", default=True),
        "use_ssl": env.bool("EMAIL_USE_SSL", default=False),
        "timeout": env.int("EMAIL_TIMEOUT", default=30),
    }
elif _email_backend == EMAIL_BACKENDS["file"]:
    _email_options = {"file_path": env.str("EMAIL_FILE_PATH", default=str(BASE_DIR / "var" / "mail"))}
MAILERS = {"default": {"BACKEND": _email_backend, "OPTIONS": _email_options}}
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="tasks@localhost")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "tasks.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Every endpoint needs the scope its action needs (tasks/api/permissions.py).
    "DEFAULT_PERMISSION_CLASSES": ["tasks.api.permissions.HasScope"],
    # orjson, with DRF's own JSON classes for whatever orjson refuses (tasks/api/renderers.py, parsers.py).
    "DEFAULT_RENDERER_CLASSES": ["tasks.api.renderers.JSONRenderer"],
    "DEFAULT_CONTENT_NEGOTIATION_CLASS": "tasks.api.renderers.ContentNegotiation",
    "DEFAULT_PARSER_CLASSES": ["tasks.api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "tasks.api.schema.QueueAutoSchema",
    "EXCEPTION_HANDLER": "tasks.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # Per-client rate limits, counted in each process and shared through
    # PostgreSQL in batches (tasks/api/throttling.py); rates are read from
    # TASK_QUEUE at request time.
    "DEFAULT_THROTTLE_CLASSES": ["tasks.api.throttling.ClientRateThrottle"],
    # Proxies in front that append to X-Forwarded-For: a client's address for rate
    # limits is the one the last of them saw. 0 (no proxy): the connection's address,
    # so a client cannot choose its own by sending the header.
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "DEFAULT_PAGINATION_CLASS": "tasks.api.pagination.NewestFirstCursor",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Task queue API",
    "DESCRIPTION": "A PostgreSQL task queue: create, inspect, retry and cancel tasks.",
    "VERSION": "1.0.0",
    "SCHEMA_PATH_PREFIX": "/api",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"TaskStatusEnum": "tasks.models.TaskStatus.choices",
                            "WorkerStateEnum": "tasks.models.WorkerState.choices"},
    "AUTHENTICATION_WHITELIST": ["tasks.api.authentication.ApiKeyAuthentication"],
    "PREPROCESSING_HOOKS": ["tasks.api.schema.only_api_paths"],
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums",
                             "tasks.api.schema.finish"],
}

# The queue. Each entry NAME is read from the environment variable QUEUE_NAME
# (TASK_QUEUE["RETRY_BASE"] is QUEUE_RETRY_BASE), once, here; code reads it
# with tasks.conf.get("RETRY_BASE"). Durations are in seconds.
_QUEUE_SETTINGS = [
    # Worker defaults (`manage.py worker` flags override them).
    ("WORKER_QUEUES", "list", ["*"]),
    ("CONCURRENCY", "int", 4),
    ("PREFETCH", "int", -1),  # -1: as many as the concurrency
    ("POLL_INTERVAL", "float", 1.0),
    ("LISTEN", "bool", True),
    ("HEARTBEAT_INTERVAL", "float", 2.0),
    ("WORKER_TIMEOUT", "float", 20.0),
    ("SHUTDOWN_GRACE", "float", 30.0),
    ("MAX_TASKS_PER_CHILD", "int", 0),
    ("CHILD_MEMORY_LIMIT_MB", "int", 0),
    ("CLAIM_BATCH", "int", 100),
    # Most jobs sent to a slot in one message (short tasks only; 1 sends one at a time).
    ("SLOT_BATCH", "int", 32),
    # synchronous_commit=off for the worker's claims and outcomes (never for enqueues):
    # faster, and a PostgreSQL crash can only make a task run again.
    ("ASYNC_COMMIT", "bool", False),
    ("FLUSH_INTERVAL", "float", 0.005),
    ("FLUSH_SIZE", "int", 100),
    # Modules imported at start-up so that their handlers register (comma-separated).
    ("HANDLER_MODULES", "list", []),
    # The module imported from every installed app so that its @task functions
    # register (myapp/tasks.py); empty turns autodiscovery off.
    ("AUTODISCOVER", "str", "tasks"),
    # Periodic schedules: a tick later than this (seconds) counts as missed.
    ("SCHEDULE_GRACE", "float", 60.0),
    # Prepared statements on the hot path; turn off behind PgBouncer < 1.21 in transaction mode.
    ("PREPARE", "bool", True),
    # Task defaults.
    ("DEFAULT_MAX_RETRIES", "int", 3),
    ("DEFAULT_TIMEOUT", "float", 300.0),
    ("TIMEOUT_GRACE", "float", 5.0),
    ("RETRY_BASE", "float", 2.0),
    ("RETRY_CAP", "float", 3600.0),
    # Housekeeping.
    ("PROMOTE_INTERVAL", "float", 0.5),
    ("RESCUE_INTERVAL", "float", 5.0),
    ("PRUNE_INTERVAL", "float", 60.0),
    ("RETENTION", "float", 7 * 86400.0),
    ("FAILED_RETENTION", "float", 30 * 86400.0),
    # Webhooks.
    ("WEBHOOK_TIMEOUT", "float", 10.0),
    ("WEBHOOK_MAX_ATTEMPTS", "int", 5),
    ("WEBHOOK_SECRET", "str", ""),
    ("WEBHOOK_ON_FAILURE", "bool", False),
    ("WEBHOOK_ALLOW_PRIVATE", "bool", False),
    # CIDRs webhooks may reach even though they are not public, e.g. 10.20.0.0/16 (comma-separated).
    ("WEBHOOK_ALLOWED_NETWORKS", "list", []),
    # CA bundle that https webhooks are verified against; empty: certifi's public CAs.
    ("WEBHOOK_CA_BUNDLE", "str", ""),
    # The image type (tasks/handlers/image.py): where its files live, and what it will decode.
    ("MEDIA_ROOT", "str", str(BASE_DIR / "var" / "media")),
    ("IMAGE_MAX_PIXELS", "int", 40_000_000),  # beyond it, a decompression bomb: refused before decoding
    ("IMAGE_MAX_BYTES", "int", 20 * 1024 * 1024),  # largest image file read or downloaded
    # Operations: the event log behind /api/events and the metrics, and /metrics access.
    ("EVENT_RETENTION", "float", 3600.0),
    ("METRICS_TOKEN", "str", ""),
    # The overview's alarm: a queue whose oldest pending task waited longer than this (0: off).
    ("ALARM_PENDING_AGE", "float", 300.0),
    # Monitoring reads leave the replica (DATABASE_REPLICA_URL) for the primary when it lags more.
    ("REPLICA_MAX_LAG", "float", 30.0),
    # Input limits.
    ("MAX_PAYLOAD_BYTES", "int", 256 * 1024),
    ("MAX_PAYLOAD_DEPTH", "int", 32),
    # REST API limits (docs/rest-api.md).
    ("API_MAX_BODY_BYTES", "int", 10 * 1024 * 1024),
    ("BULK_MAX", "int", 1000),
    ("API_RATE", "str", "1000/second"),  # per token user; empty: no limit
    ("API_ANON_RATE", "str", "600/minute"),  # per IP address
    # Failed authentications per IP address; past it, 429 until the window ends (empty: no limit).
    ("API_AUTH_FAILURES", "str", "30/minute"),
    # Seconds a web process remembers an API key (a revoked key works that much longer in other processes).
    ("API_TOKEN_CACHE", "float", 5.0),
    ("MAX_PENDING", "int", 0),  # per queue; 0: no limit
    # Flow control per queue (docs/flow-control.md), as JSON: {"payments": {"max_running": 5},
    # "email": {"rate_limit": 100, "rate_period": 60}}; a queue's own settings (REST, admin) win.
    ("LIMITS", "json", {}),
    ("BACKPRESSURE_RETRY_AFTER", "int", 5),
    # Open /api/events streams per web process; each holds one of its WEB_THREADS threads
    # (default: the threads left over when the pool's connections each have one).
    ("MAX_STREAMS", "int", max(1, WEB_THREADS - env.int("DB_POOL_MAX_SIZE", default=8))),
]
TASK_QUEUE = {name: getattr(env, kind)(f"QUEUE_{name}", default=default) for name, kind, default in _QUEUE_SETTINGS}

# django.tasks: @task functions enqueue into this queue. QUEUES empty allows any
# queue name; list names to restrict them.
TASKS = {
    "default": {
        "BACKEND": "tasks.backends.PostgresBackend",
        "QUEUES": [],
    },
}

# Periodic tasks declared in settings, synced into the Schedule table by the
# workers: {"name": {"cron": "0 3 * * *", "task": "myapp.tasks.nightly", ...}}.
# See "Periodic tasks" in docs/python-api.md.
TASK_SCHEDULES: dict[str, dict] = {}

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
# plain (human text) or json (one object per line, with task_id, task_type, queue,
# attempt and worker_id on every line about a task).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain").lower()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "tasks.telemetry.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "json" if LOG_FORMAT == "json" else "plain",
                    "filters": ["task_context"]},
    },
    "filters": {"task_context": {"()": "tasks.telemetry.logs.TaskContextFilter"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "tasks": {"level": LOG_LEVEL, "propagate": True},
        "queueproject": {"level": LOG_LEVEL, "propagate": True},
        "django.tasks": {"level": "WARNING", "propagate": True},
    },
}
