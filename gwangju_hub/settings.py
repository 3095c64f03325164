"""Settings for Gwangju Hub, read from the environment.

One settings module for every environment: the differences live in
environment variables (see the README's configuration table), and a bad value
fails loudly at start-up instead of surfacing later as odd behaviour.
"""

from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("VAR_DIR", default=str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

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
    "django_htmx",
    "template_partials",
    "agencies",
    "issues",
    "meetings",
    "gwangju_hub",
]

MIDDLEWARE = [
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
            ],
        },
    },
]

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
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "agencies.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

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

# --- E-mail -----------------------------------------------------------------

vars().update(env.email_url("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="noreply@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Absolute links in e-mails (mail has no request to build them from).
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000")
EMAIL_TIMEOUT = 10

# --- Security ---------------------------------------------------------------

SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
# Load balancers and uptime probes speak plain HTTP to /healthz.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_X_FORWARDED_PROTO", "https") if env.bool("BEHIND_TLS_PROXY", default=False) else None
)
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

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
    # Proves the worker and beat are alive end to end (broker and database);
    # cheap enough to run often, visible in the worker log.
    "heartbeat": {
        "task": "agencies.heartbeat",
        "schedule": crontab(minute="*/15"),
    },
}

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

# --- Logging ----------------------------------------------------------------

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
