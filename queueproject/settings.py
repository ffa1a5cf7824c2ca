"""Settings for the task queue service.

One file; every knob comes from the environment with a default that works on a
fresh clone. Queue settings live under TASK_QUEUE and read QUEUE_* variables.
The README lists every variable.
"""

from pathlib import Path

import environ
from django.core.management.utils import get_random_secret_key

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
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "tasks",
    "dashboard",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
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
            ],
        },
    },
]

# Database: DATABASE_URL, or the embedded server when it is unset.
DATABASE_URL = database.resolve_url(BASE_DIR)
DATABASES = {
    "default": {
        **database.django_settings(DATABASE_URL),
        "CONN_MAX_AGE": env.int("DB_CONN_MAX_AGE", default=60),
        "CONN_HEALTH_CHECKS": True,
    }
}
# Under ASGI each request runs in a thread of its own, and Django keeps one
# connection per thread: persistent connections would pile up until PostgreSQL
# refuses clients ("too many clients already"). The ASGI entry point therefore
# turns on psycopg's connection pool (DB_POOL), which returns connections at the
# end of each request. Workers keep their one persistent connection.
if env.bool("DB_POOL", default=False):
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    # A request waits this long for a connection (all in use, or the database
    # away) before it fails with a 503; longer would hold clients on an outage.
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": 1, "max_size": env.int("DB_POOL_MAX_SIZE", default=8),
        "timeout": env.float("DB_POOL_TIMEOUT", default=3.0),
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
# Serve app static files straight from their folders, so `make run` needs no collectstatic.
WHITENOISE_USE_FINDERS = True

# Behind a TLS-terminating proxy, set SECURE_PROXY_SSL_HEADER_ENABLED and SECURE_SSL_REDIRECT.
if env.bool("SECURE_PROXY_SSL_HEADER_ENABLED", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=False)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=SECURE_SSL_REDIRECT)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=SECURE_SSL_REDIRECT)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0)

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])

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
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "tasks.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Task queue API",
    "DESCRIPTION": "A PostgreSQL task queue: create, inspect, retry and cancel tasks.",
    "VERSION": "1.0.0",
}

# The queue. Durations are in seconds.
TASK_QUEUE = {
    # Worker defaults (`manage.py worker` flags override them).
    "QUEUES": env.list("QUEUE_WORKER_QUEUES", default=["*"]),
    "CONCURRENCY": env.int("QUEUE_CONCURRENCY", default=4),
    "PREFETCH": env.int("QUEUE_PREFETCH", default=-1),  # -1: as many as the concurrency
    "POLL_INTERVAL": env.float("QUEUE_POLL_INTERVAL", default=1.0),
    "LISTEN": env.bool("QUEUE_LISTEN", default=True),
    "HEARTBEAT_INTERVAL": env.float("QUEUE_HEARTBEAT_INTERVAL", default=2.0),
    "WORKER_TIMEOUT": env.float("QUEUE_WORKER_TIMEOUT", default=20.0),
    "SHUTDOWN_GRACE": env.float("QUEUE_SHUTDOWN_GRACE", default=30.0),
    "MAX_TASKS_PER_CHILD": env.int("QUEUE_MAX_TASKS_PER_CHILD", default=0),
    "CHILD_MEMORY_LIMIT_MB": env.int("QUEUE_CHILD_MEMORY_LIMIT_MB", default=0),
    "CLAIM_BATCH": env.int("QUEUE_CLAIM_BATCH", default=100),
    # Most jobs sent to a slot in one message (short tasks only; 1 sends one at a time).
    "SLOT_BATCH": env.int("QUEUE_SLOT_BATCH", default=32),
    # synchronous_commit=off for the worker's claims and outcomes (never for enqueues):
    # faster, and a PostgreSQL crash can only make a task run again.
    "ASYNC_COMMIT": env.bool("QUEUE_ASYNC_COMMIT", default=False),
    "FLUSH_INTERVAL": env.float("QUEUE_FLUSH_INTERVAL", default=0.005),
    "FLUSH_SIZE": env.int("QUEUE_FLUSH_SIZE", default=100),
    # Modules imported at start-up so that their handlers register (comma-separated).
    "HANDLER_MODULES": env.list("QUEUE_HANDLER_MODULES", default=[]),
    # Prepared statements on the hot path; turn off behind PgBouncer < 1.21 in transaction mode.
    "PREPARE": env.bool("QUEUE_PREPARE", default=True),
    # Task defaults.
    "DEFAULT_MAX_RETRIES": env.int("QUEUE_DEFAULT_MAX_RETRIES", default=3),
    "DEFAULT_TIMEOUT": env.float("QUEUE_DEFAULT_TIMEOUT", default=300.0),
    "TIMEOUT_GRACE": env.float("QUEUE_TIMEOUT_GRACE", default=5.0),
    "RETRY_BASE": env.float("QUEUE_RETRY_BASE", default=2.0),
    "RETRY_CAP": env.float("QUEUE_RETRY_CAP", default=3600.0),
    # Housekeeping.
    "PROMOTE_INTERVAL": env.float("QUEUE_PROMOTE_INTERVAL", default=0.5),
    "RESCUE_INTERVAL": env.float("QUEUE_RESCUE_INTERVAL", default=5.0),
    "PRUNE_INTERVAL": env.float("QUEUE_PRUNE_INTERVAL", default=60.0),
    "RETENTION": env.float("QUEUE_RETENTION", default=7 * 86400.0),
    "FAILED_RETENTION": env.float("QUEUE_FAILED_RETENTION", default=30 * 86400.0),
    # Webhooks.
    "WEBHOOK_TIMEOUT": env.float("QUEUE_WEBHOOK_TIMEOUT", default=10.0),
    "WEBHOOK_MAX_ATTEMPTS": env.int("QUEUE_WEBHOOK_MAX_ATTEMPTS", default=5),
    "WEBHOOK_SECRET": env.str("QUEUE_WEBHOOK_SECRET", default=""),
    "WEBHOOK_ON_FAILURE": env.bool("QUEUE_WEBHOOK_ON_FAILURE", default=False),
    "WEBHOOK_ALLOW_PRIVATE": env.bool("QUEUE_WEBHOOK_ALLOW_PRIVATE", default=False),
    # Input limits.
    "MAX_PAYLOAD_BYTES": env.int("QUEUE_MAX_PAYLOAD_BYTES", default=256 * 1024),
}

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "tasks": {"level": LOG_LEVEL, "propagate": True},
        "queueproject": {"level": LOG_LEVEL, "propagate": True},
        "django.tasks": {"level": "WARNING", "propagate": True},
    },
}
