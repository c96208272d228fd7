"""Chronoverse settings, read from environment variables.

Every value has a default that lets `make run` and `make test` work on a provisioned machine with
no editing. The helpers below reject a malformed value at start-up instead of letting it surface
later as a confusing runtime error.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_str(name: str, default: str) -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (true/false), got {raw!r}")


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ImproperlyConfigured(f"{name} must be <= {maximum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_rate(name: str, default: str) -> str:
    """A rate such as `120/min`: a positive count per second, minute, hour or day."""
    value = os.environ.get(name) or default
    count, _, period = value.partition("/")
    if not count.isdigit() or int(count) < 1 or period not in ("sec", "min", "hour", "day"):
        raise ImproperlyConfigured(f"{name} must look like '120/min' (sec|min|hour|day), got {value!r}")
    return value


DEBUG = env_bool("DEBUG", False)
# Production: the secure defaults below switch on (each still settable, e.g. behind a proxy that
# terminates TLS).
PRODUCTION = env_bool("CHRONOVERSE_PRODUCTION", False)
# Sessions, CSRF tokens and password resets are signed with this key: a guessable one is refused
# whenever DEBUG is off. The Makefile generates one and keeps it in .data/secret_key.
DEVELOPMENT_SECRET_KEY = "chronoverse-development-key-for-debug-only"
SECRET_KEY = env_str("SECRET_KEY", DEVELOPMENT_SECRET_KEY if DEBUG else "")
if not DEBUG and (len(SECRET_KEY) < 32 or SECRET_KEY == DEVELOPMENT_SECRET_KEY):
    raise ImproperlyConfigured(
        "SECRET_KEY must be set to a random value of at least 32 characters (DEBUG is off); "
        "`make` keeps one in .data/secret_key, or set DEBUG=true for a throwaway development key."
    )
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", ["http://127.0.0.1:8000", "http://localhost:8000"])

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.postgres",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "csp",
    "accounts",
    "workflows",
    "jobs",
    "notifications",
    "analytics",
]

MIDDLEWARE = [
    "chronoverse.middleware.metrics_middleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "chronoverse.middleware.request_size_limit_middleware",
    "accounts.middleware.early_rate_limit_middleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.middleware.display_timezone_middleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "chronoverse.urls"
WSGI_APPLICATION = "chronoverse.wsgi.application"
ASGI_APPLICATION = "chronoverse.asgi.application"

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
                "notifications.context_processors.unread_notifications",
            ],
        },
    },
]

# A pool of connections per process (psycopg_pool), for the web process: under ASGI each request
# runs on a thread of its own, so a persistent per-thread connection would be opened every time.
DATABASE_POOL_SIZE = env_int("DATABASE_POOL_SIZE", 0, minimum=0, maximum=100)
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", "postgres://chronoverse@127.0.0.1:5433/chronoverse"),
        conn_max_age=0 if DATABASE_POOL_SIZE else env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0),
        # With a pool, this makes it check a connection before lending it (a database restart).
        conn_health_checks=True,
    )
}
if DATABASE_POOL_SIZE:
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DATABASE_POOL_SIZE,
        "timeout": 10,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_str("REDIS_URL", "redis://127.0.0.1:6380/0")

CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "cache",
    }
}

AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "dashboard:home"
LOGOUT_REDIRECT_URL = "accounts:login"
# argon2 first: new passwords are hashed with it; the others only verify hashes made elsewhere.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
PASSWORD_MIN_LENGTH = 8
PASSWORD_MAX_LENGTH = 128
AUTH_PASSWORD_VALIDATORS = [
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": PASSWORD_MIN_LENGTH},
    },
]

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", PRODUCTION)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", SESSION_COOKIE_SECURE)
# Behind a TLS-terminating proxy, trust its X-Forwarded-Proto (only there: clients could forge it).
if env_bool("SECURE_PROXY_SSL_HEADER", PRODUCTION):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
# Probes and scrapers inside the cluster speak plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", PRODUCTION)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", PRODUCTION)
X_FRAME_OPTIONS = "DENY"
# The dashboard runs no inline script or style: only this site's own files (and its sockets).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# /metrics answers this bearer token; without one, only requests from this machine.
METRICS_TOKEN = env_str("METRICS_TOKEN", "")

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "chronoverse" / "static"]
# Serve from the finders when collectstatic has not been run (development and tests).
WHITENOISE_USE_FINDERS = True
# Files served at the site's root (/favicon.ico, which browsers and tools ask for on their own).
WHITENOISE_ROOT = BASE_DIR / "chronoverse" / "public"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Requests over this size are answered 413 before any view reads them.
MAX_REQUEST_BYTES = env_int("MAX_REQUEST_BYTES", 1024 * 1024, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BYTES

# API tokens handed out by the login endpoint expire after this many hours.
LOGIN_TOKEN_TTL_HOURS = env_int("LOGIN_TOKEN_TTL_HOURS", 24 * 30, minimum=1)

# Rate limits (fixed windows counted in Redis). Login is limited per email and per client IP.
RATE_LIMITS = {
    "api_user": env_rate("RATE_LIMIT_API_USER", "1200/min"),
    "api_anon": env_rate("RATE_LIMIT_API_ANON", "120/min"),
    "login_email": env_rate("RATE_LIMIT_LOGIN_EMAIL", "10/min"),
    "login_ip": env_rate("RATE_LIMIT_LOGIN_IP", "30/min"),
    "register_ip": env_rate("RATE_LIMIT_REGISTER_IP", "30/hour"),
    # Each password reset request sends a mail: a few per address, and per client IP.
    "password_reset_email": env_rate("RATE_LIMIT_PASSWORD_RESET_EMAIL", "5/hour"),
    "password_reset_ip": env_rate("RATE_LIMIT_PASSWORD_RESET_IP", "20/hour"),
    # Per ping key: a runaway loop calling its ping URL is refused (429) without slowing the others.
    "ping": env_rate("RATE_LIMIT_PING", "60/min"),
}
# Where the users' own jobs reach this platform: the origin of every workflow's `ping_url`.
PING_BASE_URL = env_str("PING_BASE_URL", "http://127.0.0.1:8000")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.authentication.BearerTokenAuthentication",
        "accounts.authentication.CsrfSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "accounts.permissions.TokenScopePermission",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["chronoverse.ratelimit.ApiRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["chronoverse.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "chronoverse.api_errors.exception_handler",
    # `?format=` belongs to the contract (raw log downloads), not to DRF's renderer selection.
    "URL_FORMAT_OVERRIDE": None,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Chronoverse API",
    "DESCRIPTION": "Workflow automation and job scheduling: workflows, jobs, logs, notifications.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "WorkflowKindEnum": "workflows.models.WorkflowKind",
        "NotificationKindEnum": "notifications.models.NotificationKind",
        "BuildStatusEnum": "workflows.models.BuildStatus",
        "JobStatusEnum": "jobs.models.JobStatus",
        "DependencyOutcomeEnum": "workflows.models.DependencyOutcome",
        # The one-kind enums of each payload and of each new workflow's variant.
        "HeartbeatKindEnum": ["HEARTBEAT"],
        "ContainerKindEnum": ["CONTAINER"],
        "WebhookKindEnum": ["WEBHOOK"],
        "WebsocketKindEnum": ["WEBSOCKET"],
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "chronoverse.schema.add_error_responses",
    ],
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # No read timeout: a layer consumer blocks on Redis for up to 5 s per receive, and redis-py 8
        # would otherwise time those reads out and crash the consumer.
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": None}], "prefix": "chronoverse:channels"},
    }
}

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A message not acknowledged within this time is handed to another worker; longer than any task
# holds a message (long jobs keep their own lease in Postgres instead).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600, minimum=60)}
CELERY_TIMEZONE = "UTC"
# The scheduler tick and the maintenance tasks have a queue and a worker of their own, so long jobs
# filling every execution slot can never delay the tick.
CONTROL_QUEUE = "control"
CELERY_TASK_ROUTES = {
    name: {"queue": CONTROL_QUEUE}
    for name in (
        "jobs.tasks.scheduler_tick",
        "jobs.tasks.reap",
        "jobs.tasks.prune_logs",
        "workflows.tasks.requeue_stale_builds",
        "accounts.tasks.prune_expired_tokens",
    )
}
# How often beat starts a scheduler tick: a slot waits for the next one, so this bounds how late a
# job starts (half a second: p99 lag under a second). A tick with nothing due is one indexed query.
SCHEDULER_TICK_SECONDS = env_float("SCHEDULER_TICK_SECONDS", 0.5, minimum=0.1)
CELERY_BEAT_SCHEDULE = {
    "accounts-prune-expired-tokens": {
        "task": "accounts.tasks.prune_expired_tokens",
        "schedule": 3600.0,
    },
    "jobs-scheduler-tick": {
        "task": "jobs.tasks.scheduler_tick",
        "schedule": SCHEDULER_TICK_SECONDS,
    },
    "jobs-reap": {
        "task": "jobs.tasks.reap",
        "schedule": 10.0,
    },
    "jobs-prune-logs": {
        "task": "jobs.tasks.prune_logs",
        "schedule": 86400.0,
    },
    "workflows-requeue-stale-builds": {
        "task": "workflows.tasks.requeue_stale_builds",
        "schedule": 60.0,
    },
}

# The container engine; the docker SDK also honours DOCKER_HOST itself.
DOCKER_HOST = env_str("DOCKER_HOST", "unix:///var/run/docker.sock")
# This machine's name among the worker hosts (each with its own engine; docs/scaling.md). A worker
# that consumes the jobs queue also consumes `host.<name>`, where everything that touches one of
# its containers is sent; jobs record the host that claimed them. Default: the machine's hostname.
WORKER_HOST = env_str("CHRONOVERSE_HOST", "") or socket.gethostname()
# How often each worker host cleans its own engine (containers of finished or superseded jobs) and
# says it is alive; a host not heard from for three periods gets no retries of others' jobs.
HOST_SWEEP_SECONDS = env_float("HOST_SWEEP_SECONDS", 30.0, minimum=1)
# Where images built from Dockerfiles are pushed so that every host can pull them
# (`registry.example:5000` or `registry.example:5000/team`). Empty: images stay on the engine that
# built them, which is enough for one host.
IMAGE_REGISTRY = env_str("IMAGE_REGISTRY", "").rstrip("/")
# A remote engine over TLS (`tcp://host:2376`, dockerd --tlsverify), with the docker CLI's variables:
# the engine is checked against ca.pem and we present cert.pem and key.pem, all from DOCKER_CERT_PATH.
DOCKER_TLS_VERIFY = env_bool("DOCKER_TLS_VERIFY", False)
DOCKER_CERT_PATH = env_str("DOCKER_CERT_PATH", str(Path.home() / ".docker"))
# This installation's name on a shared engine: its containers and images are labelled with it and
# its reaper removes only those. Empty: a digest of the database (each database, one installation).
INSTALLATION_ID = env_str("CHRONOVERSE_INSTALLATION", "")

DEMO_USER_EMAIL = env_str("DEMO_USER_EMAIL", "demo@chronoverse.local")
DEMO_USER_PASSWORD = env_str("DEMO_USER_PASSWORD", "chronoverse-demo")

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}

# Host folders that CONTAINER workflows may mount (absolute paths, comma-separated). Empty: only
# named volumes are allowed.
CONTAINER_HOST_PATH_ALLOWLIST = [p.rstrip("/") or "/" for p in env_list("CONTAINER_HOST_PATH_ALLOWLIST", [])]

# Image preparation for CONTAINER workflows (seconds).
WORKFLOW_BUILD_TIMEOUT = env_int("WORKFLOW_BUILD_TIMEOUT", 600, minimum=10)
IMAGE_PULL_TIMEOUT = env_int("IMAGE_PULL_TIMEOUT", 300, minimum=10)

# The engine. Times in seconds.
JOB_LEASE_SECONDS = env_int("JOB_LEASE_SECONDS", 30, minimum=2)
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3, minimum=1, maximum=20)
JOB_REQUEUE_AFTER_SECONDS = env_int("JOB_REQUEUE_AFTER_SECONDS", 120, minimum=5)
SCHEDULER_BATCH_SIZE = env_int("SCHEDULER_BATCH_SIZE", 1000, minimum=1)
CONTAINER_DEFAULT_MEMORY_MB = env_int("CONTAINER_DEFAULT_MEMORY_MB", 512, minimum=6)
CONTAINER_DEFAULT_CPUS = env_float("CONTAINER_DEFAULT_CPUS", 1.0, minimum=0.01)
CONTAINER_PIDS_LIMIT = env_int("CONTAINER_PIDS_LIMIT", 256, minimum=8)
CONTAINER_STOP_GRACE_SECONDS = env_int("CONTAINER_STOP_GRACE_SECONDS", 10, minimum=0)
# Per-user quotas: active (not terminated) workflows (409 beyond), and jobs running at once (more
# wait QUEUED for a slot; a manual run beyond it is a 429).
MAX_WORKFLOWS_PER_USER = env_int("MAX_WORKFLOWS_PER_USER", 1000, minimum=1)
MAX_RUNNING_JOBS_PER_USER = env_int("MAX_RUNNING_JOBS_PER_USER", 20, minimum=1)
# The most a payload may ask for (a 400 naming the field above them; stored payloads are clamped).
CONTAINER_MAX_MEMORY_MB = env_int("CONTAINER_MAX_MEMORY_MB", 4096, minimum=6)
CONTAINER_MAX_CPUS = env_float("CONTAINER_MAX_CPUS", 2.0, minimum=0.01)
# The image a `script` workflow runs in when its payload names none (`sh -c <script>` needs a shell).
SCRIPT_DEFAULT_IMAGE = env_str("SCRIPT_DEFAULT_IMAGE", "chronoverse/busybox:latest")
# What the engine keeps of a job container's own output (the job log in Postgres has its own caps).
CONTAINER_ENGINE_LOG_MAX_MB = env_int("CONTAINER_ENGINE_LOG_MAX_MB", 10, minimum=1)
WEBHOOK_RETRY_BASE_DELAY = env_float("WEBHOOK_RETRY_BASE_DELAY", 1.0, minimum=0)
# Client sockets (/ws/clients/): how long a new socket has to send its first message, and how often
# an open client hook refreshes its presence and re-reads its waiting events from the database.
CLIENT_SOCKET_HANDSHAKE_SECONDS = env_float("CLIENT_SOCKET_HANDSHAKE_SECONDS", 10.0, minimum=0.1)
CLIENT_SOCKET_REFRESH_SECONDS = env_float("CLIENT_SOCKET_REFRESH_SECONDS", 15.0, minimum=0.1)
LOG_MAX_LINE_BYTES = env_int("LOG_MAX_LINE_BYTES", 16 * 1024, minimum=256)
LOG_MAX_LINES_PER_JOB = env_int("LOG_MAX_LINES_PER_JOB", 100_000, minimum=10)
LOG_FLUSH_INTERVAL = env_float("LOG_FLUSH_INTERVAL", 0.2, minimum=0.01)
LOG_RETENTION_DAYS = env_int("LOG_RETENTION_DAYS", 30, minimum=1)

# Outbound alert email (Django's email backend; console by default, SMTP when EMAIL_HOST is set).
EMAIL_HOST = env_str("EMAIL_HOST", "")
EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1, maximum=65535)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
EMAIL_BACKEND = (
    "django.core.mail.backends.smtp.EmailBackend" if EMAIL_HOST else "django.core.mail.backends.console.EmailBackend"
)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "chronoverse@localhost")

# Refuse webhooks, heartbeat checks and alert webhooks to loopback, private and link-local
# addresses (the metadata service, the database...). Turn on wherever users are not trusted.
# Webhooks, HTTP checks and alert webhooks never call loopback, private, link-local or reserved
# addresses unless this is on: `make run` (a local demo) and the test suite turn it on.
OUTBOUND_ALLOW_PRIVATE_ADDRESSES = env_bool("OUTBOUND_ALLOW_PRIVATE_ADDRESSES", False)
