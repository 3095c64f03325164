"""Settings for Gwangju Hub, read from the environment.

One settings module for every environment: the differences live in
environment variables (see the README's configuration table), and a bad value
fails loudly at start-up instead of surfacing later as odd behaviour.
"""

import os
from datetime import time, timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

env = environ.Env()

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def envbool(name: str, default: bool) -> bool:
    """A yes/no setting that refuses anything it does not understand.

    django-environ reads ``SECURE_SSL_REDIRECT=ture`` as False without a word;
    a typo in a security setting must stop the app instead (as healthchecks does).
    """
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}={raw!r} is not a yes/no value: use 1/0, true/false, yes/no or on/off."
    )


BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env.str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = envbool("DEBUG", False)

if DEBUG:
    SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-never-use-in-production")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
else:
    SECRET_KEY = env.str("SECRET_KEY", default="")
    if len(SECRET_KEY) < 50 or SECRET_KEY.startswith("dev-only"):
        raise ImproperlyConfigured(
            "SECRET_KEY must be set to a random value of at least 50 characters when DEBUG is off "
            "(python -c 'import secrets; print(secrets.token_urlsafe(64))')."
        )
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    # Django's own widget templates for FORM_RENDERER below.
    "django.forms",
    "django_htmx",
    "template_partials",
    "core",
    "agencies",
    "issues",
    "meetings",
    "gwangju_hub",
]

MIDDLEWARE = [
    # First: request id, one log line and the metrics for every answer (core/logs.py).
    "core.logs.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Content-Security-Policy on every answer but static files (WhiteNoise's, above).
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "agencies.middleware.UserLanguageMiddleware",
    # After authentication (no-store for signed-in users) and the user's
    # language (the 413/400 pages speak it); before anything reads the body.
    "core.middleware.SecurityHeadersMiddleware",
    "core.middleware.RequestLimitsMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "agencies.middleware.HtmxLoginRedirectMiddleware",
]

ROOT_URLCONF = "gwangju_hub.urls"
WSGI_APPLICATION = "gwangju_hub.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "gwangju_hub.context_processors.notifications",
                "gwangju_hub.context_processors.navigation",
            ],
        },
    },
]

# Forms render through the project's template engine (its cached loader, and
# templates/django/forms/ overrides: select.html writes its options inline
# rather than one include each, the bulk of the issue list's filter form).
FORM_RENDERER = "django.forms.renderers.TemplatesSetting"

# --- Data -------------------------------------------------------------------

DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'gwangju_hub.sqlite3'}")
}
DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite only serves the embedded default; these keep separate web, worker
    # and beat processes from failing with "database is locked".
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
    # A file, not Django's default in-memory test database: the browser tests'
    # live server answers from other threads, which must open their own
    # connections rather than share one.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-database.sqlite3")}
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Server-side binding lets psycopg prepare a statement the second time a
    # connection runs it, so PostgreSQL plans it once per connection rather
    # than once per request: the notification and list queries join six
    # tables and took longer to plan (~10 ms) than to run (~1.5 ms). Not for
    # PgBouncer in transaction mode (prepared statements live per session).
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"server_side_binding": True, "prepare_threshold": 2}
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "agencies.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    # A file cache is shared by the web, worker and beat processes of the
    # embedded setup, which a per-process memory cache would not be.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }
# Rendered fragments, such as one row of the issue list, kept in each process's
# memory under a key made of everything the fragment shows (the `{% cache %}`
# tag uses this alias by name). Such a key cannot go stale, so the cache needs
# no invalidation and nothing shared: a dead Redis costs it nothing.
CACHES["template_fragments"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "template-fragments",
    "TIMEOUT": 60 * 60,
    "OPTIONS": {"MAX_ENTRIES": 20_000},
}
# Small reference data read on many pages and changed only in the admin (the
# issue list's menus, issues.selectors.menu_options), kept in each process's
# memory for a minute: no round trip, and nothing lost when Redis is down.
CACHES["local"] = {
    "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
    "LOCATION": "local",
    "TIMEOUT": 60,
}

# --- Internationalisation ------------------------------------------------------

LANGUAGE_CODE = "ko"
LANGUAGES = [("ko", _("Korean")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_AGE = 60 * 60 * 24 * 365
TIME_ZONE = "Asia/Seoul"
USE_I18N = True
USE_TZ = True

# --- Static and uploaded files ----------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"]
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
# Attachments are never under STATIC_ROOT and have no MEDIA_URL: they are only
# served through a view that checks who is asking.
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))

# --- Attachments in S3-compatible object storage (issue 11) ---------------------
# With AWS_STORAGE_BUCKET_NAME set, attachments go to a bucket (AWS S3, MinIO, …)
# through django-storages, so every web and worker node reads what any other one
# stored (docs/deployment.md). Unset, they stay under MEDIA_ROOT: the embedded
# default, one machine only. The variables are django-storages' own names;
# credentials left unset fall back to boto3's chain (instance role, ~/.aws).
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    from botocore.config import Config as _BotoConfig

    _s3_endpoint = env.str("AWS_S3_ENDPOINT_URL", default="") or None
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": AWS_STORAGE_BUCKET_NAME,
            "endpoint_url": _s3_endpoint,
            "access_key": env.str("AWS_ACCESS_KEY_ID", default="") or None,
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default="") or None,
            "region_name": env.str("AWS_S3_REGION_NAME", default="") or None,
            # Private objects: no ACL of ours (the bucket's private default
            # applies) and any URL signed and short-lived, though no page shows
            # one: downloads stream through the permission check (issues/views.py).
            "default_acl": None,
            "querystring_auth": True,
            "querystring_expire": 60,
            # Stored names are random (issues.models._attachment_path); a clash
            # would be a bug, so it gets a new name rather than replacing a file.
            "file_overwrite": False,
            # Should a URL ever leak, the bucket still never serves a file as a
            # page: the real type lives in the database and our response.
            "object_parameters": {
                "ContentType": "application/octet-stream",
                "ContentDisposition": "attachment",
            },
            # A download is fetched before it is streamed; past 1 MiB it spools
            # to a temporary file instead of holding up to 20 MB in memory.
            "max_memory_size": 1024 * 1024,
            # A hung store must fail fast instead of holding a gunicorn worker:
            # 2 s to connect, 5 s per read, one retry. The uploader then sees a
            # form error within ~10 s (issues.services.attachment_add).
            "client_config": _BotoConfig(
                connect_timeout=2,
                read_timeout=5,
                retries={"mode": "standard", "total_max_attempts": 2},
                signature_version="s3v4",
                # MinIO and most self-hosted stores want path-style URLs
                # (http://minio:9000/bucket/key); AWS itself picks its own.
                s3={
                    "addressing_style": env.str(
                        "AWS_S3_ADDRESSING_STYLE", default="path" if _s3_endpoint else "auto"
                    )
                },
            ),
        },
    }

# --- E-mail -----------------------------------------------------------------

vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="noreply@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Absolute links in e-mails (mail has no request to build them from).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
EMAIL_TIMEOUT = 10

# --- Security ---------------------------------------------------------------

SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", not DEBUG)
# Load balancers and uptime probes speak plain HTTP to /healthz.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if envbool("BEHIND_TLS_PROXY", False) else None
)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# --- Accounts: login lockout, sessions, passwords (issue 8) -----------------
# One block on purpose: other branches edit this file too.

# django-axes counts failed logins per username in the database (never the
# cache: a Redis outage must not break logging in) and refuses the username
# for a while after too many. By username, not by address: staff of one
# organization share one NAT address, so locking the address would let one
# person lock out a whole agency. Unknown usernames are counted the same way,
# so the lockout says nothing about who has an account.
INSTALLED_APPS += ["axes"]
AUTHENTICATION_BACKENDS = [
    # Refuses a locked username before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    # ModelBackend, loading the person's organization with them (one query fewer
    # per page). Sessions signed in under the backend before it (Django's
    # ModelBackend) end once, when this path first deploys: Django only
    # trusts a session's backend while it is listed here.
    "agencies.backends.UserBackend",
]
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_LOCKOUT_PARAMETERS = ["username"]
# axes warns that a lockout without the address can be dodged by changing
# User-Agent or cookies; that holds for lockouts keyed on those, not on the
# username alone, whose failures are counted whatever the client sends.
SILENCED_SYSTEM_CHECKS = [*vars().get("SILENCED_SYSTEM_CHECKS", []), "axes.W006"]
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
# A success forgets earlier failures; a failure during the lockout restarts the
# lockout (axes' default), so "try again in 15 minutes" is always true.
AXES_RESET_ON_SUCCESS = True
# The audit trail: every success (AccessLog) and every failure, lockouts
# included (AccessFailureLog), with time and address, kept in admin.
AXES_DISABLE_ACCESS_LOG = False
AXES_ENABLE_ACCESS_FAILURE_LOG = True
# The styled login page (or admin's) with the message, not a bare 429 page.
AXES_LOCKOUT_CALLABLE = "agencies.account_views.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# Where the client address comes from. REMOTE_ADDR unless a reverse proxy that
# is the only way in sets a header it overwrites (nginx:
# `proxy_set_header X-Real-IP $remote_addr;` with CLIENT_IP_HEADER=HTTP_X_REAL_IP).
AXES_IPWARE_META_PRECEDENCE_ORDER = (env.str("CLIENT_IP_HEADER", default="REMOTE_ADDR"),)

# Sessions live in the database (no cache dependency; core.sessions is Django's
# db engine with its read compiled once per process). SessionTimeoutMiddleware
# ends one after SESSION_IDLE_MINUTES without a request, and SESSION_MAX_HOURS
# after login whatever happens; the cookie never outlives the absolute limit.
SESSION_ENGINE = "core.sessions"
SESSION_IDLE_MINUTES = env.int("SESSION_IDLE_MINUTES", default=30)
SESSION_MAX_HOURS = env.int("SESSION_MAX_HOURS", default=12)
SESSION_COOKIE_AGE = SESSION_MAX_HOURS * 60 * 60
SESSION_WARNING_SECONDS = 120  # the dialog offering to extend comes this long before
if SESSION_IDLE_MINUTES < 3 or SESSION_MAX_HOURS < 1:
    raise ImproperlyConfigured(
        "SESSION_IDLE_MINUTES must be at least 3 (the warning comes 2 minutes before) "
        "and SESSION_MAX_HOURS at least 1."
    )
MIDDLEWARE += [
    # After authentication, messages and htmx: it logs out, leaves a message and
    # lets HtmxLoginRedirectMiddleware turn its redirect into HX-Redirect.
    "agencies.middleware.SessionTimeoutMiddleware",
    # Last, as axes asks: turns a lockout into the login page with a message.
    "axes.middleware.AxesMiddleware",
]

# Passwords follow KISA's guideline (two kinds of characters and 10 long, or
# three kinds and 8 long); Django's checks against the user's own details,
# common passwords and all-digit passwords stay.
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "agencies.validators.CharacterKindsPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = 60 * 60 * 3  # a reset link works for 3 hours

# --- Browser policies and request limits (README "Security") -------------------
# Scripts and styles only from our own static files: no inline <script>,
# style="" or event handlers anywhere, htmx told not to eval or inject styles
# (templates/base.html, htmx-config). Images, fonts and fetches are ours too.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}
# Browser features Gwangju Hub never uses, switched off for every page (and any
# script that might get in). Only names Chromium knows: others log console errors.
PERMISSIONS_POLICY = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "encrypted-media",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "picture-in-picture",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
)
# The largest request body accepted: an attachment of 20 MB (issues.filetypes.
# MAX_ATTACHMENT_SIZE) plus 1 MB for the multipart framing and the other fields.
# Larger ones get a 413 page before their body is read (core.middleware).
REQUEST_BODY_MAX_BYTES = 21 * 1024 * 1024
# Django's own cap on non-file form data, held in memory. Equal to the cap
# above, so a body the middleware lets through is never refused later with a
# bare "Bad Request (400)": over-long text gets the form's max-length message,
# with the text kept. (Multipart file data does not count against it.)
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_BODY_MAX_BYTES
# Uploaded files above this go to a temporary file instead of memory.
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024

# --- Celery -----------------------------------------------------------------

if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
else:
    # kombu's filesystem transport: a real broker for separate web, worker and
    # beat processes on one machine, with nothing to install.
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    (VAR_DIR / "results").mkdir(exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = f"file://{VAR_DIR / 'results'}"
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_RESULT_EXPIRES = 60 * 60 * 24
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Redis: every call bounded -------------------------------------------------
# A refused Redis fails fast; a hung one (SIGSTOP, a full network buffer)
# blocks forever unless every client has connect and socket timeouts. Names
# checked against celery 5.7, kombu 5.7, redis-py 8.1 and Django 5.2.
# Publishing is a speed-up (the outbox rows are the promise, core/broker.py),
# so it tries once: one bounded wait, never kombu's retries within a request.
REDIS_TIMEOUT_SECONDS = 2
REDIS_SOCKET_TIMEOUTS = {
    "socket_connect_timeout": REDIS_TIMEOUT_SECONDS,
    "socket_timeout": REDIS_TIMEOUT_SECONDS,
}
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_TIMEOUT_SECONDS
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 0}
if REDIS_URL:
    # The Django cache (redis-py connection pool: no retries by default).
    CACHES["default"]["OPTIONS"] = dict(REDIS_SOCKET_TIMEOUTS)
    # The broker (kombu's Redis transport hands these to redis-py).
    CELERY_BROKER_TRANSPORT_OPTIONS = dict(REDIS_SOCKET_TIMEOUTS)
    # The result backend; its reconnect loop (20 tries a second apart by
    # default) is what made a request wait 19 s when Redis was down.
    CELERY_REDIS_SOCKET_TIMEOUT = REDIS_TIMEOUT_SECONDS
    CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = REDIS_TIMEOUT_SECONDS
    CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {
        "retry_policy": {"max_retries": 1, "interval_start": 0, "interval_step": 1}
    }

# Every periodic task, in one place. Each entry says why it runs when it does.
CELERY_BEAT_SCHEDULE = {
    # Reminders are rows in the database, claimed by this sweep; it runs often
    # so a reminder is at most a few minutes late, and a missed run (beat or
    # broker down) is simply caught up by the next one. No far-future ETAs.
    "send-due-reminders": {
        "task": "meetings.send_due_reminders",
        "schedule": 60 * env.int("REMINDER_SWEEP_MINUTES", default=5),
        "options": {"expires": 60 * env.int("REMINDER_SWEEP_MINUTES", default=5)},
    },
    # Reply-deadline and due-date reminders (issues/deadlines.py): rows
    # planned and claimed by this sweep, like the meeting reminders; a step is
    # due from DEADLINE_REMINDER_HOUR of its working day, so a few minutes late
    # at most, and a missed run is caught up by the next.
    "send-deadline-reminders": {
        "task": "issues.send_deadline_reminders",
        "schedule": 60 * env.int("REMINDER_SWEEP_MINUTES", default=5),
        "options": {"expires": 60 * env.int("REMINDER_SWEEP_MINUTES", default=5)},
    },
    # Notification e-mails are rows written with the change they report;
    # this sweep sends the owed ones. Services also kick it after each change,
    # but a kick may be lost (broker down): this run, every minute, is what
    # guarantees delivery, and it retries failed mails after their backoff.
    "deliver-notifications": {
        "task": "issues.deliver_notifications",
        "schedule": 60,
        "options": {"expires": 60},
    },
    # The daily digest: planned once at DIGEST_TIME on working days, then sent
    # through its outbox. Every 15 minutes rather than once at 08:30, so a
    # beat or broker that was down at 08:30 still delivers the day's digest
    # when it returns (the day is planned once whoever runs first).
    "send-digests": {
        "task": "gwangju_hub.send_digests",
        "schedule": crontab(minute="*/15"),
        "options": {"expires": 15 * 60},
    },
    # Proves the worker and beat are alive end to end (broker and database);
    # cheap enough to run often, visible in the worker log.
    "heartbeat": {
        "task": "agencies.heartbeat",
        "schedule": crontab(minute="*/15"),
    },
}

# --- Outboxes ------------------------------------------------------------------

# The daily digest's time of day, Asia/Seoul (working days only).
DIGEST_TIME = env.str("DIGEST_TIME", default="08:30")
try:
    time.fromisoformat(DIGEST_TIME)
except ValueError:
    raise ImproperlyConfigured(
        f"DIGEST_TIME must be a time as HH:MM, not {DIGEST_TIME!r}."
    ) from None

# /healthz answers 503 "outbox": "late" when the oldest due reminder or
# notification e-mail has waited longer than this: the worker, beat or mail
# server has stopped. Longer than a few sweep intervals and SMTP backoffs.
OUTBOX_LATE_MINUTES = env.int("OUTBOX_LATE_MINUTES", default=15)
# /healthz reuses its outbox answer for this many seconds per process (0: asks
# every time, as in development and tests, where a change must show at once).
OUTBOX_CHECK_SECONDS = env.int("OUTBOX_CHECK_SECONDS", default=0 if DEBUG else 5)

# --- Meetings and reminders --------------------------------------------------

# When `schedule_meetings YEAR` places the regular meetings (Asia/Seoul).
MEETING_SCHEDULE = {
    # Bimonthly vice-heads' meeting: third Thursday of even months, 14:00-16:00.
    "vice_heads": {
        "months": [2, 4, 6, 8, 10, 12],
        "weekday": 3,  # Monday is 0
        "week_of_month": 3,
        "start": "14:00",
        "minutes": 120,
        "location": "광주광역시청 3층 중회의실",
        "chair": "행정부시장",
    },
    # December performance briefing to the Mayor: mid-December (the first
    # weekday on or after the 15th), 10:00-12:00.
    "performance_briefing": {
        "month": 12,
        "day": 15,
        "start": "10:00",
        "minutes": 120,
        "location": "광주광역시청 3층 대회의실",
        "chair": "광주광역시장",
    },
}
# How long before a meeting its reminders go out, per kind of meeting.
MEETING_REMINDER_OFFSETS_DAYS = {
    "vice_heads": [7, 1],
    "heads": [7, 1],
    "performance_briefing": [7, 1],
    "other": [7, 1],
}
# Performance reports are due this many days before the briefing, with
# reminders this many days before that deadline.
REPORT_DEADLINE_DAYS_BEFORE_BRIEFING = 14
REPORT_REMINDER_OFFSETS_DAYS = [7, 3, 1]

# --- Working days and cooperation deadlines (issue 9) ---------------------------


def _iso_dates(name: str) -> frozenset:
    """Comma-separated ISO dates (``2026-10-02,2027-01-04``); a bad one stops the app."""
    from datetime import date

    days = set()
    for raw in env.list(name, default=[]):
        try:
            days.add(date.fromisoformat(raw.strip()))
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {raw!r} is not a date (YYYY-MM-DD).") from None
    return frozenset(days)


# Days off the government declares at short notice (임시공휴일), on top of the
# Korean public holidays of the ``holidays`` package (core/workdays.py).
EXTRA_HOLIDAYS = _iso_dates("EXTRA_HOLIDAYS")
# A cooperation request's reply deadline, unless the requester sets one.
COOPERATION_REPLY_WORKING_DAYS = env.int("COOPERATION_REPLY_WORKING_DAYS", default=5)
if COOPERATION_REPLY_WORKING_DAYS < 1:
    raise ImproperlyConfigured("COOPERATION_REPLY_WORKING_DAYS must be at least 1.")
# Deadline reminders (issues/deadlines.py) go out at this hour (Asia/Seoul) of
# their working day: at the start of office hours, not at midnight.
DEADLINE_REMINDER_HOUR = env.int("DEADLINE_REMINDER_HOUR", default=9)
if not 0 <= DEADLINE_REMINDER_HOUR <= 23:
    raise ImproperlyConfigured("DEADLINE_REMINDER_HOUR must be an hour from 0 to 23.")

# --- Logging and metrics (issue 11: core/logs.py, core/metrics.py) --------------

# One JSON object per line in production (for a log shipper), readable text
# in development; every record carries the request id (or Celery task id) and
# the user id. Celery workers use this same configuration (core/tasklogs.py).
LOG_FORMAT = env.str("LOG_FORMAT", default="text" if DEBUG else "json")
if LOG_FORMAT not in ("json", "text"):
    raise ImproperlyConfigured(f"LOG_FORMAT={LOG_FORMAT!r}: use json or text.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "core.logs.ContextFilter"}},
    "formatters": {
        "json": {"()": "core.logs.JsonFormatter"},
        "text": {"()": "core.logs.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["context"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own console handler would print its records a second time.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.db.backends": {"level": "INFO"},
    },
}
# /metrics answers only `Authorization: Bearer <METRICS_TOKEN>`; unset, it is a 404.
# Set PROMETHEUS_MULTIPROC_DIR (environment only) to sum web and worker processes.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
if METRICS_TOKEN and len(METRICS_TOKEN) < 32:
    raise ImproperlyConfigured(
        "METRICS_TOKEN must be at least 32 characters "
        "(python -c 'import secrets; print(secrets.token_urlsafe(32))')."
    )
