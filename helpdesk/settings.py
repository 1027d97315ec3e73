"""Settings for the helpdesk, read from the environment.

Every variable is listed in .env.example and the README's configuration table. Without any of
them the project runs on the embedded default: SQLite, a file-system Celery broker and a file
cache, all under ``var/``.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from kombu import Exchange, Queue

from helpdesk.env import (
    email_settings_from_url,
    env_bool,
    env_float,
    env_float_list,
    env_int,
    env_list,
    env_rate,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
# A relative HELPDESK_VAR_DIR is taken from the project folder.
VAR_DIR = BASE_DIR / env_str("HELPDESK_VAR_DIR", "var")
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)


def _secret_key() -> str:
    key = env_str("SECRET_KEY", "")
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see .env.example).")
    # A development key that survives restarts, so sessions do not drop on every reload.
    key_file = VAR_DIR / "dev-secret-key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # Django's admin, its default site replaced by the helpdesk's (helpdesk.admin_site).
    "helpdesk.apps.HelpdeskAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    # Inbound e-mail from providers' webhooks (tickets.inbound_webhook); no sending backend.
    "anymail",
    "helpdesk",
    # Before tickets: the role sync after migrate grants its permissions (tickets/roles.py).
    "axes",
    "guides",
    "tickets",
]

MIDDLEWARE = [
    # Outermost, so a database outage raised in any layer below becomes a 503 (helpdesk.outages).
    "helpdesk.outages.DatabaseOutageMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # NUL and other control characters in the path, query or form: 400 before any view, file
    # or database lookup (PostgreSQL cannot compare a NUL), the session cookie's included.
    "helpdesk.request_guards.RequestGuard",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # On admin pages, the language the staff member chose, over LocaleMiddleware's guess.
    "helpdesk.staff_language.StaffLanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Innermost but for axes: a replayed answer passes the outer middleware like the first one
    # did (axes only acts on the admin's sign-in).
    "helpdesk.idempotency.IdempotencyMiddleware",
    # Last, as django-axes asks: turns a refused admin sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = "helpdesk.wsgi.application"
ASGI_APPLICATION = "helpdesk.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "helpdesk" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------------
# https://github.com/jazzband/dj-database-url
DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'helpdesk.sqlite3'}")
try:
    _database = dj_database_url.parse(
        DATABASE_URL, conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60, minimum=0)
    )
except ValueError as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a usable database URL: {exc}") from None
_database["CONN_HEALTH_CHECKS"] = True
if _database["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server, the worker and beat read while one of them writes; the
    # timeout makes a writer wait for the lock instead of failing at once.
    _database["CONN_MAX_AGE"] = 0
    _database["OPTIONS"] = {
        "timeout": 20,
        "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file, not memory: tests that start real worker processes share the test database.
    # One per test run, so two runs in one checkout do not write into each other's.
    _database["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
DATABASES = {"default": _database}
# SQLite has no covering indexes: the INCLUDE of attempt_updated_idx (a PostgreSQL index-only
# scan for the statistics rollup) is left out there, as the check warns; the index still works.
SILENCED_SYSTEM_CHECKS = ["models.W040"] if _database["ENGINE"].endswith("sqlite3") else []
# While the database cannot be reached, requests get 503 with this Retry-After (seconds)
# (helpdesk.outages). A host that drops packets instead of refusing would hold each request
# for the system's TCP timeout (minutes): the connect timeout bounds that wait.
DATABASE_OUTAGE_RETRY_AFTER = env_int("DATABASE_OUTAGE_RETRY_AFTER", 30, minimum=1)
if _database["ENGINE"] == "django.db.backends.postgresql":
    _database.setdefault("OPTIONS", {})["connect_timeout"] = env_int(
        "DATABASE_CONNECT_TIMEOUT", 5, minimum=1
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache --------------------------------------------------------------------------------
# The cache is shared by the web server, the worker and beat (view counts, worker heartbeat),
# so the default is a file cache, never per-process memory.
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            # Fails open: while this Redis is unreachable the cache answers "nothing cached"
            # (throttles allow, views go uncounted) instead of failing the request.
            "BACKEND": "helpdesk.cache.FailOpenRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "helpdesk"),
            "OPTIONS": {
                # A page view never waits long on a Redis host that stopped answering...
                "socket_connect_timeout": 1,
                "socket_timeout": 1,
                # ... and after a failure, not at all for this long (one try per interval).
                "retry_interval": env_float("CACHE_RETRY_INTERVAL", 5.0, minimum=0.0),
                # One warning per interval while it is down, not one per request.
                "failure_log_interval": env_float("CACHE_FAILURE_LOG_INTERVAL", 60.0, minimum=0.0),
            },
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": env_str("CACHE_DIR", str(VAR_DIR / "cache")),
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "helpdesk"),
            # The default (300) would cull entries at random, pending view counts included.
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

# --- Auth, i18n, static -------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Admin sign-in lockout (django-axes, https://django-axes.readthedocs.io/en/latest/): failed
# sign-ins are recorded in the database (AccessAttempt, which supervisors see and delete in the
# admin to lift a lock). After ADMIN_LOGIN_FAILURE_LIMIT failures for one username from any
# address, or from one address for any username, every sign-in they make is refused, the right
# password included, until ADMIN_LOGIN_COOLOFF minutes pass without another failure.
AUTHENTICATION_BACKENDS = [
    # First, so that a locked-out sign-in is refused before any password is checked. It needs
    # the request, which every sign-in form passes (tests use force_login, or login(request=)).
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("ADMIN_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("ADMIN_LOGIN_COOLOFF", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# The address every other per-address limit counts (TRUSTED_PROXY_COUNT), not axes' own guess.
AXES_CLIENT_IP_CALLABLE = "helpdesk.lockout.lockout_client_address"
AXES_USERNAME_CALLABLE = "helpdesk.lockout.lockout_username"
AXES_LOCKOUT_CALLABLE = "helpdesk.lockout.lockout_response"
# A success does not wipe the failures: with it, an attacker holding any account could sign in
# between guesses at another one from the same address and never reach the limit.
AXES_RESET_ON_SUCCESS = False
AXES_VERBOSE = False  # no start-up banner in the output of every command
# Registered by helpdesk.admin with the lockout per username and per address (helpdesk.lockout).
AXES_ENABLE_ADMIN = False

LANGUAGE_CODE = "en"
LANGUAGES = [("ar", _("Arabic")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Formats Django's own locales lack (Arabic has no date-with-time pattern), looked up first.
FORMAT_MODULE_PATH = ["helpdesk.formats"]
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
# helpdesk/static is found as an installed app's (no STATICFILES_DIRS entry, or collectstatic
# would find every file twice).
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES: dict[str, dict[str, Any]] = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Attachments (tickets.services.attachments, docs/attachments.md) ----------------------
# Files travel with messages in their own storage alias: on the file system under the var
# dir by default (a storage with no URL at all: helpdesk.storage), or in an S3-compatible
# bucket (AWS S3, MinIO) when ATTACHMENTS_S3_BUCKET is set, as private objects. Either way
# they are served only by tickets.views.attachment_download, behind a short-lived signed link.
ATTACHMENTS_S3_BUCKET = env_str("ATTACHMENTS_S3_BUCKET", "")
if ATTACHMENTS_S3_BUCKET:
    # https://django-storages.readthedocs.io/en/latest/backends/amazon-S3.html
    STORAGES["attachments"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": ATTACHMENTS_S3_BUCKET,
            # MinIO or another S3-compatible server; empty for AWS itself.
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL", "") or None,
            "region_name": env_str("AWS_S3_REGION_NAME", "") or None,
            # Empty: boto3's own chain (instance role, ~/.aws, AWS_* in the environment).
            "access_key": env_str("AWS_ACCESS_KEY_ID", "") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY", "") or None,
            "location": env_str("ATTACHMENTS_S3_PREFIX", "attachments"),
            "default_acl": "private",
            "querystring_auth": True,
            "file_overwrite": False,
        },
    }
else:
    STORAGES["attachments"] = {
        "BACKEND": "helpdesk.storage.PrivateFileSystemStorage",
        "OPTIONS": {
            "location": env_str("ATTACHMENTS_DIR", str(VAR_DIR / "attachments")),
            # Owner-only: another local user of the server cannot read customers' files.
            "file_permissions_mode": 0o600,
            "directory_permissions_mode": 0o700,
        },
    }
# Per file, in bytes; files per message; the types accepted, by what their content is.
ATTACHMENT_MAX_SIZE = env_int("ATTACHMENT_MAX_SIZE", 10 * 1024 * 1024, minimum=1)
ATTACHMENT_MAX_COUNT = env_int("ATTACHMENT_MAX_COUNT", 5, minimum=0)
ATTACHMENT_TYPES = env_list(
    "ATTACHMENT_TYPES",
    ["image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain"],
)
_ATTACHMENT_KNOWN_TYPES = {
    "image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf", "text/plain",
    "application/zip",
}  # fmt: skip
if unknown := set(ATTACHMENT_TYPES) - _ATTACHMENT_KNOWN_TYPES:
    raise ImproperlyConfigured(
        f"ATTACHMENT_TYPES: {', '.join(sorted(unknown))} cannot be recognised; "
        f"known: {', '.join(sorted(_ATTACHMENT_KNOWN_TYPES))}."
    )
# How long a download link works, in seconds.
ATTACHMENT_LINK_MAX_AGE = env_int("ATTACHMENT_LINK_MAX_AGE", 600, minimum=10)

# --- Security -----------------------------------------------------------------------------
# Production defaults are strict; each can be relaxed by its variable (e.g. behind a proxy that
# terminates TLS, set SECURE_PROXY_SSL_HEADER=true).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# How many reverse proxies of our own stand in front (each appends to X-Forwarded-For). Per-
# address limits (status page, API throttles) read the client's address from that header
# only when this is set; 0 means REMOTE_ADDR, the right value when clients connect directly.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Health checks from the orchestrator come over plain HTTP on the internal network.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]

# Content-Security-Policy (django-csp 4): no inline scripts or styles anywhere; every page
# loads its scripts and styles from our own static files.
# https://django-csp.readthedocs.io/en/latest/configuration.html
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# --- E-mail -------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Helpdesk <helpdesk@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# With DEBUG on (make run) e-mails are kept in var/mail/ as readable files, one log line each,
# and listed at /admin/mail/ (helpdesk.mail); with DEBUG off the default stays the console.
_email = email_settings_from_url(
    "EMAIL_URL", env_str("EMAIL_URL", "folder://" if DEBUG else "console://")
)
EMAIL_BACKEND = str(_email["EMAIL_BACKEND"])
if "EMAIL_FILE_PATH" in _email:
    EMAIL_FILE_PATH = str(_email["EMAIL_FILE_PATH"] or VAR_DIR / "mail")
if "EMAIL_HOST" in _email:
    EMAIL_HOST = str(_email["EMAIL_HOST"])
    EMAIL_PORT = int(str(_email["EMAIL_PORT"]))
    EMAIL_HOST_USER = str(_email["EMAIL_HOST_USER"])
    EMAIL_HOST_PASSWORD = str(_email["EMAIL_HOST_PASSWORD"])
    EMAIL_USE_TLS = bool(_email["EMAIL_USE_TLS"])
    EMAIL_USE_SSL = bool(_email["EMAIL_USE_SSL"])
    EMAIL_TIMEOUT = int(str(_email["EMAIL_TIMEOUT"]))

# --- Replies by e-mail (docs/email.md) -------------------------------------------------------
# The mailbox replies go to: every e-mail's Reply-To is a plus address on it that names the
# ticket and the reader ("support@example.com" → "support+t42-c-…@example.com"). Empty: no
# Reply-To (replies go to DEFAULT_FROM_EMAIL, which nothing reads).
INBOUND_EMAIL_ADDRESS = env_str("INBOUND_EMAIL_ADDRESS", "")
# E-mails taken from one sender in the window, counted in the database; past it they are
# stored and refused (a mail loop or a flood never becomes a storm of messages on a ticket).
INBOUND_EMAIL_SENDER_LIMIT = env_int("INBOUND_EMAIL_SENDER_LIMIT", 20, minimum=1)
INBOUND_EMAIL_SENDER_WINDOW = env_int("INBOUND_EMAIL_SENDER_WINDOW", 3600, minimum=1)
# A mailbox beat polls: imaps://user:password@host:993/INBOX (or imap:// without TLS). Empty:
# no polling. Read messages are marked seen, and moved to INBOUND_IMAP_DONE_FOLDER when set.
INBOUND_IMAP_URL = env_str("INBOUND_IMAP_URL", "")
INBOUND_IMAP_POLL_INTERVAL = env_float("INBOUND_IMAP_POLL_INTERVAL", 60.0, minimum=1.0)
INBOUND_IMAP_DONE_FOLDER = env_str("INBOUND_IMAP_DONE_FOLDER", "")
INBOUND_IMAP_TIMEOUT = env_float("INBOUND_IMAP_TIMEOUT", 30.0, minimum=1.0)
# Messages read per poll; the rest wait for the next one.
INBOUND_IMAP_BATCH = env_int("INBOUND_IMAP_BATCH", 50, minimum=1)
# Provider webhooks through django-anymail: Mailgun's route forwards to
# <SITE_URL>/anymail/mailgun/inbound/, signed with this key (the URL answers 404 without it).
# ANYMAIL_WEBHOOK_SECRET ("user:password") adds HTTP basic auth in front, as anymail documents.
# https://anymail.dev/en/stable/esps/mailgun/#mailgun-inbound
ANYMAIL: dict[str, object] = {}
if env_str("MAILGUN_WEBHOOK_SIGNING_KEY", ""):
    ANYMAIL["MAILGUN_WEBHOOK_SIGNING_KEY"] = env_str("MAILGUN_WEBHOOK_SIGNING_KEY")
if env_str("ANYMAIL_WEBHOOK_SECRET", ""):
    ANYMAIL["WEBHOOK_SECRET"] = env_str("ANYMAIL_WEBHOOK_SECRET")
# POSTs to the inbound webhook per client address in the window (the provider's servers).
INBOUND_WEBHOOK_LIMIT = env_int("INBOUND_WEBHOOK_LIMIT", 600, minimum=1)
INBOUND_WEBHOOK_WINDOW = env_int("INBOUND_WEBHOOK_WINDOW", 60, minimum=1)

# --- Celery -------------------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html
# Without CELERY_BROKER_URL the broker is kombu's file-system transport under var/: it needs
# no server, and a real worker process consumes from it. It keeps no in-flight state, so a
# killed worker loses the message it held; the escalation sweeper covers that case.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    # kombu's file-system channel with atomic writes: kombu's own lets a polling worker read a
    # half-written message and die on it (kombu#1551; helpdesk/broker.py, docs/escalation.md).
    # A transport named here wins over the URL's scheme; the URL stays filesystem://.
    CELERY_BROKER_TRANSPORT = "helpdesk.broker:Transport"
    _broker_dir = Path(env_str("CELERY_BROKER_DIR", str(VAR_DIR / "broker")))
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
        "polling_interval": env_float("CELERY_POLLING_INTERVAL", 0.1, minimum=0.01),
    }
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        # Bounded, so a request that enqueues work never hangs on a dead broker.
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
        "socket_timeout": 5,
        "socket_connect_timeout": 2,
        # Redis re-delivers an unacknowledged message after this long; it must exceed the
        # longest task time limit or a slow task would run twice.
        "visibility_timeout": env_int(
            "CELERY_BROKER_VISIBILITY_TIMEOUT",
            3600,
            minimum=env_int("CELERY_TASK_TIME_LIMIT", 90, minimum=1) + 1,
        ),
        # Look for messages of dead workers past the visibility timeout every 10 s (the
        # default scans one poll in ten, so about every 100 s).
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
        # A worker asks for the queues in CELERY_TASK_QUEUES' order every time (kombu's default
        # rotates them), so a burst of escalations is ticketed before the e-mails it causes.
        "queue_order_strategy": "priority",
    }
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
# A task is acknowledged when it finishes, and re-queued if its worker dies mid-way: tasks
# must be idempotent (they are written to be safe to run twice).
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fix-up closes every database connection after each task unless told to reuse
# them (celery#9824), so each ticket paid a new PostgreSQL connection in the worker. Told to
# reuse, it closes them only every CELERY_DB_REUSE_MAX tasks; between, helpdesk.celery closes
# them after each task as Django does after a request: past CONN_MAX_AGE (always on SQLite),
# left broken by an error, or left inside a transaction.
CELERY_DB_REUSE_MAX = 1000
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 60, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 90, minimum=1)
CELERY_TASK_DEFAULT_QUEUE = "default"
# The worker consumes every queue listed here unless started with -Q; on Redis in this order
# of priority (queue_order_strategy above): beat's periodic work (heartbeat, sweeper, SLA
# check: few, short, and never left waiting), escalations, the rest, e-mails last. E-mails wait
# while escalations keep every worker process busy; a worker of their own (-Q) removes even that.
CELERY_TASK_QUEUES = tuple(
    Queue(name, Exchange(name, type="direct"), routing_key=name)
    for name in ("maintenance", "escalations", "default", "notifications")
)
CELERY_IMPORTS = ["helpdesk.tasks"]
CELERY_TASK_ROUTES = {
    "tickets.tasks.escalate_*": {"queue": "escalations"},
    "tickets.tasks.notify_*": {"queue": "notifications"},
    "helpdesk.tasks.*": {"queue": "maintenance"},
    "guides.tasks.flush_guide_view_counts": {"queue": "maintenance"},
    "tickets.tasks.sweep_escalations": {"queue": "maintenance"},
    "tickets.tasks.check_sla": {"queue": "maintenance"},
    "tickets.tasks.assign_waiting_tickets": {"queue": "maintenance"},
    "tickets.tasks.close_solved_tickets": {"queue": "maintenance"},
    "tickets.tasks.rollup_statistics": {"queue": "maintenance"},
    "tickets.tasks.retry_webhook_deliveries": {"queue": "maintenance"},
    "tickets.tasks.poll_inbound_mailbox": {"queue": "maintenance"},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Guide views wait in the cache at most this long before they reach Guide.view_count.
GUIDE_VIEW_FLUSH_INTERVAL = env_float("GUIDE_VIEW_FLUSH_INTERVAL", 60.0, minimum=1.0)
ESCALATION_SWEEP_INTERVAL = env_float("ESCALATION_SWEEP_INTERVAL", 30.0, minimum=1.0)
# The statistics rollup (tickets.services.insights) runs every STATISTICS_ROLLUP_INTERVAL
# seconds; each run also re-reads the changes of the STATISTICS_ROLLUP_LAG seconds before the
# last run began, for the transactions that were still open then (docs/statistics.md).
STATISTICS_ROLLUP_INTERVAL = env_float("STATISTICS_ROLLUP_INTERVAL", 300.0, minimum=1.0)
STATISTICS_ROLLUP_LAG = env_float("STATISTICS_ROLLUP_LAG", 600.0, minimum=0.0)
ESCALATION_SWEEP_AGE = env_float("ESCALATION_SWEEP_AGE", 60.0, minimum=0.0)
# Beat looks for webhook deliveries whose next try is due this often (seconds).
WEBHOOK_RETRY_SWEEP_INTERVAL = env_float("WEBHOOK_RETRY_SWEEP_INTERVAL", 30.0, minimum=1.0)
# --- Health (/healthz, `manage.py health`) ----------------------------------------------------
# Beat sends a heartbeat task every HEARTBEAT_INTERVAL seconds and records its own ticks; the
# worker or beat is failing once its last record is older than its bound.
HEARTBEAT_INTERVAL = env_float("HEARTBEAT_INTERVAL", 30.0, minimum=1.0)
HEALTH_WORKER_MAX_AGE = env_float("HEALTH_WORKER_MAX_AGE", 3 * HEARTBEAT_INTERVAL, minimum=1.0)
HEALTH_BEAT_MAX_AGE = env_float("HEALTH_BEAT_MAX_AGE", 3 * HEARTBEAT_INTERVAL, minimum=1.0)
CELERY_BEAT_SCHEDULER = "helpdesk.beat.Scheduler"

CELERY_BEAT_SCHEDULE = {
    "heartbeat": {
        "task": "helpdesk.tasks.heartbeat",
        "schedule": HEARTBEAT_INTERVAL,
        "options": {"expires": 25},
    },
    "flush-guide-view-counts": {
        "task": "guides.tasks.flush_guide_view_counts",
        "schedule": GUIDE_VIEW_FLUSH_INTERVAL,
        # A flush still queued when the next is sent is redundant: the next takes its views.
        "options": {"expires": GUIDE_VIEW_FLUSH_INTERVAL},
    },
    # Escalations recorded but still without a ticket after this long are turned into tickets
    # by the sweeper: the broker was down, or a killed worker lost the message.
    "sweep-escalations": {
        "task": "tickets.tasks.sweep_escalations",
        "schedule": ESCALATION_SWEEP_INTERVAL,
        "kwargs": {"older_than_seconds": ESCALATION_SWEEP_AGE},
        "options": {"expires": ESCALATION_SWEEP_INTERVAL},
    },
    # SLA clocks live in the database and are checked here, never in task countdowns (a
    # countdown longer than Redis's visibility timeout would be delivered again and again).
    "check-sla": {
        "task": "tickets.tasks.check_sla",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    "assign-waiting-tickets": {
        "task": "tickets.tasks.assign_waiting_tickets",
        "schedule": 60.0,
        "options": {"expires": 55},
    },
    # The day tallies the statistics read (docs/statistics.md).
    "rollup-statistics": {
        "task": "tickets.tasks.rollup_statistics",
        "schedule": STATISTICS_ROLLUP_INTERVAL,
        "options": {"expires": STATISTICS_ROLLUP_INTERVAL},
    },
    # Solved tickets past the 7-day reopen window become closed.
    "close-solved-tickets": {
        "task": "tickets.tasks.close_solved_tickets",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
    # Searches older than SEARCH_LOG_RETENTION_DAYS (guides.search_log), in batches.
    "prune-search-log": {
        "task": "guides.tasks.prune_search_log",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
    # Webhook deliveries whose next try is due (tickets.services.webhooks): the retries past
    # the first, and any try a lost task or a dead worker left behind.
    "retry-webhook-deliveries": {
        "task": "tickets.tasks.retry_webhook_deliveries",
        "schedule": WEBHOOK_RETRY_SWEEP_INTERVAL,
        "options": {"expires": WEBHOOK_RETRY_SWEEP_INTERVAL},
    },
    # Idempotency-Key records past IDEMPOTENCY_KEY_TTL are already ignored; this deletes them.
    "purge-idempotency-records": {
        "task": "helpdesk.tasks.purge_idempotency_records",
        "schedule": 3600.0,
        "options": {"expires": 3500},
    },
}
if INBOUND_IMAP_URL:
    # Replies by e-mail from the mailbox (docs/email.md). A poll still queued when the next is
    # sent is redundant: the next reads the same unseen messages.
    CELERY_BEAT_SCHEDULE["poll-inbound-mailbox"] = {
        "task": "tickets.tasks.poll_inbound_mailbox",
        "schedule": INBOUND_IMAP_POLL_INTERVAL,
        "options": {"expires": INBOUND_IMAP_POLL_INTERVAL},
    }

# --- REST API -----------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "helpdesk.api.pagination.PageNumberPagination",
    "DEFAULT_VERSIONING_CLASS": None,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON in, JSON out: form encodings would turn a missing boolean into False. The parser
    # refuses deep nesting and lone surrogates (helpdesk.api.parsers).
    "DEFAULT_PARSER_CLASSES": ["helpdesk.api.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "EXCEPTION_HANDLER": "helpdesk.api.errors.exception_handler",
    # helpdesk.http.client_address asks DRF too: one customer, one address.
    "NUM_PROXIES": TRUSTED_PROXY_COUNT,
    # DRF's, counted in fixed windows (one round trip for a view's throttles): every API
    # throttle must be one of helpdesk.api.throttling's, as views share these keys.
    "DEFAULT_THROTTLE_CLASSES": [
        "helpdesk.api.throttling.AnonRateThrottle",
        "helpdesk.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("API_ANON_RATE", "600/minute"),
        "user": env_rate("API_USER_RATE", "3000/minute"),
        # Writes by anonymous customers (attempts, outcomes, feedback), per address.
        "anon_write": env_rate("API_ANON_WRITE_RATE", "120/minute"),
        # Answers to "was this helpful?" per address, on the guide page and the API together
        # (guides.visitors.FeedbackThrottle): one vote per visitor is kept by a cookie, and
        # this bounds a client that drops it.
        "feedback": env_rate("FEEDBACK_RATE", "30/hour"),
        # Customers reading and answering their ticket with its secret, per address: a bound
        # on load. Wrong secrets also count against STATUS_PAGE_GUESS_LIMIT, the guess budget
        # the API shares with the status page (helpdesk.limits.ticket_link_guesses).
        "customer_ticket": env_rate("API_CUSTOMER_TICKET_RATE", "60/minute"),
    },
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"] = [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ]

# --- Customer limits (helpdesk.limits) ------------------------------------------------------
# Each is "at most LIMIT per WINDOW seconds", counted in the cache per client address (or per
# recipient e-mail address), the window opening at the first counted event.
# Wrong ticket links (404) on the status page AND the customer ticket API share one budget:
# past it the address gets 429 on both until the window ends, even for a right link. At most
# STATUS_PAGE_REPLY_LIMIT replies posted on status pages in the window.
STATUS_PAGE_GUESS_LIMIT = env_int("STATUS_PAGE_GUESS_LIMIT", 20, minimum=1)
STATUS_PAGE_GUESS_WINDOW = env_int("STATUS_PAGE_GUESS_WINDOW", 600, minimum=1)
STATUS_PAGE_REPLY_LIMIT = env_int("STATUS_PAGE_REPLY_LIMIT", 30, minimum=1)
STATUS_PAGE_REPLY_WINDOW = env_int("STATUS_PAGE_REPLY_WINDOW", 3600, minimum=1)
# Step outcomes, restarts and feedback posted on guide pages (the API's API_ANON_WRITE_RATE).
WEB_WRITE_LIMIT = env_int("WEB_WRITE_LIMIT", 120, minimum=1)
WEB_WRITE_WINDOW = env_int("WEB_WRITE_WINDOW", 60, minimum=1)
# Requests for a person (guide contact form, contact page, API), per client address and per
# recipient e-mail address (lower-cased, plus tag removed), whichever is reached first.
ESCALATION_ADDRESS_LIMIT = env_int("ESCALATION_ADDRESS_LIMIT", 10, minimum=1)
ESCALATION_ADDRESS_WINDOW = env_int("ESCALATION_ADDRESS_WINDOW", 3600, minimum=1)
ESCALATION_RECIPIENT_LIMIT = env_int("ESCALATION_RECIPIENT_LIMIT", 5, minimum=1)
ESCALATION_RECIPIENT_WINDOW = env_int("ESCALATION_RECIPIENT_WINDOW", 3600, minimum=1)
# Guide suggestions on the contact page (each one a search), per client address.
CONTACT_SEARCH_LIMIT = env_int("CONTACT_SEARCH_LIMIT", 60, minimum=1)
CONTACT_SEARCH_WINDOW = env_int("CONTACT_SEARCH_WINDOW", 60, minimum=1)
# Suggestions as a customer types in a search box (each one a search), per client address: a
# few a second while typing, so more than the contact page's.
SEARCH_SUGGESTION_LIMIT = env_int("SEARCH_SUGGESTION_LIMIT", 120, minimum=1)
SEARCH_SUGGESTION_WINDOW = env_int("SEARCH_SUGGESTION_WINDOW", 60, minimum=1)
# Customer searches written to the search log (the search page, the contact page's
# suggestions, the API), per client address: past it the search is still answered, only not
# logged. Kept SEARCH_LOG_RETENTION_DAYS days for the content gaps (guides.search_log).
SEARCH_LOG_LIMIT = env_int("SEARCH_LOG_LIMIT", 60, minimum=1)
SEARCH_LOG_WINDOW = env_int("SEARCH_LOG_WINDOW", 60, minimum=1)
SEARCH_LOG_RETENTION_DAYS = env_int("SEARCH_LOG_RETENTION_DAYS", 90, minimum=1)
# Confirmation e-mails ("a person has your request") per recipient, counted in the database
# (tickets.notifications): past the cap the ticket is created but its e-mail is not sent.
CONFIRMATION_EMAIL_LIMIT = env_int("CONFIRMATION_EMAIL_LIMIT", 3, minimum=1)
CONFIRMATION_EMAIL_WINDOW = env_int("CONFIRMATION_EMAIL_WINDOW", 3600, minimum=1)

# --- Webhooks out (tickets.services.webhooks, docs/webhooks.md) ----------------------------
# Seconds one delivery may take, connection to last byte read; past it the try failed.
WEBHOOK_TIMEOUT = env_float("WEBHOOK_TIMEOUT", 5.0, minimum=0.1)
# Seconds after each failed try before the next one (jittered by up to a quarter each): nine
# tries over about a day. Past the last one the delivery has failed.
WEBHOOK_RETRY_SCHEDULE = env_float_list(
    "WEBHOOK_RETRY_SCHEDULE", [10, 60, 300, 1800, 3600, 7200, 21600, 43200]
)
# Consecutive failed tries (any delivery) after which an endpoint is switched off and the
# supervisors are told.
WEBHOOK_DISABLE_AFTER = env_int("WEBHOOK_DISABLE_AFTER", 20, minimum=1)
# How long the previous secret still signs (beside the new one) after a rotation, in seconds.
WEBHOOK_ROTATION_OVERLAP = env_int("WEBHOOK_ROTATION_OVERLAP", 24 * 3600, minimum=0)
# Targets on private, loopback, link-local or reserved addresses are refused (SSRF) unless
# this is on: for an integration inside the same network, and for the tests' receiver.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env_bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", False)

# Idempotency-Key (helpdesk.idempotency): how long, in seconds, a POST's answer is kept and
# replayed to a retry that sends the same key; after that the key may be used again.
IDEMPOTENCY_KEY_TTL = env_int("IDEMPOTENCY_KEY_TTL", 24 * 3600, minimum=60)

SPECTACULAR_SETTINGS = {
    "TITLE": "Helpdesk API",
    "DESCRIPTION": (
        "Self-help guides, customers' attempts at them and the tickets they escalate to. "
        "Agents and integrations work tickets with an API token (`Authorization: Token <key>`, "
        "created in the admin); customers follow their own ticket with its secret. "
        "Every 4xx answer has the shape of the Error component."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "helpdesk.api.schema.forbid_nul_in_request_strings",
        "helpdesk.api.schema.document_idempotency_key",
        "helpdesk.api.schema.document_customer_secrets",
    ],
    "ENUM_NAME_OVERRIDES": {
        "LanguageEnum": "guides.models.Language",
        "StepKindEnum": "guides.models.StepKind",
        "AttemptStatusEnum": "guides.models.AttemptStatus",
        "TicketStatusEnum": "tickets.models.TicketStatus",
        "TicketPriorityEnum": "tickets.models.Priority",
    },
}

# --- Logging ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    # A database outage is reported by helpdesk.outages once per interval, not per request.
    "filters": {"database_outage": {"()": "helpdesk.outages.DatabaseOutageLogFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django.request": {"filters": ["database_outage"]},
    },
}
