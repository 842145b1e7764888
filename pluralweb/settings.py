"""pluralweb settings: everything that differs between machines comes from environment variables.

Embedded defaults (SQLite file, serverless Celery broker) need no services; production sets
DATABASE_URL (PostgreSQL) and CELERY_BROKER_URL (Redis).
"""

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from alignment.embeddings.encoder import PRECISIONS as _EMBEDDING_PRECISIONS
from pluralweb.env import env_bool, env_choice, env_int, env_list, env_rate, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("PLURALWEB_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DJANGO_DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (DJANGO_DEBUG=0)")
    # Development only: a key per checkout, kept out of the repository.
    key_file = VAR_DIR / "dev-secret-key"
    if not key_file.exists():
        from django.core.management.utils import get_random_secret_key

        key_file.write_text(get_random_secret_key())
    SECRET_KEY = key_file.read_text().strip()

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
if not DEBUG and not ALLOWED_HOSTS:
    raise ImproperlyConfigured("ALLOWED_HOSTS must be set when DEBUG is off")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "annotation",
    "alignment",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "pluralweb.request_limits.RequestSizeLimitMiddleware",
    "pluralweb.security_headers.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "pluralweb.urls"
WSGI_APPLICATION = "pluralweb.wsgi.application"

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
                "django.template.context_processors.i18n",
            ],
        },
    },
]


def _database_from_url(url: str) -> dict:
    try:
        config = dj_database_url.parse(url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60, minimum=0))
    except Exception as exc:  # dj_database_url raises several types for malformed URLs
        raise ImproperlyConfigured(f"DATABASE_URL={url!r} is not a valid database URL: {exc}") from None
    engine = config.get("ENGINE", "")
    if engine == "django.db.backends.sqlite3":
        config["CONN_MAX_AGE"] = 0
        # IMMEDIATE takes the write lock when a transaction starts, so concurrent `next` calls
        # serialise instead of failing with "database is locked" on lock upgrade.
        config["OPTIONS"] = {
            "transaction_mode": "IMMEDIATE",
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    elif engine == "django.db.backends.postgresql":
        # The annotation loop prepares its few hot statements (annotation/plain_sql.py); psycopg needs a
        # threshold for that, and this one is never reached by the ORM's own queries. Set
        # DB_PREPARED_STATEMENTS=0 behind a pooler that cannot keep prepared statements (PgBouncer in
        # transaction mode before 1.21).
        if env_bool("DB_PREPARED_STATEMENTS", True):
            config.setdefault("OPTIONS", {})["prepare_threshold"] = 1_000_000_000
    else:
        raise ImproperlyConfigured(f"DATABASE_URL={url!r}: only sqlite:// and postgres:// are supported")
    return config


DATABASE_URL = env_str("DATABASE_URL", f"sqlite:///{VAR_DIR / 'pluralweb.sqlite3'}")
DATABASES = {"default": _database_from_url(DATABASE_URL)}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en"
# Community Alignment's five languages. Annotator pages are translated; researcher pages are English (French too).
LANGUAGES = [("en", "English"), ("fr", "Français"), ("it", "Italiano"), ("pt", "Português"), ("hi", "हिन्दी")]
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
WHITENOISE_USE_FINDERS = True  # serve straight from the app folders: no collectstatic step to forget
WHITENOISE_AUTOREFRESH = DEBUG

# Messages (the admin's notices) live in the session: the default cookie-then-session storage signs a
# cookie on every request, API calls included, for nothing.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"

# HTTPS=1 behind TLS: secure cookies, redirect to https, HSTS; `manage.py check --deploy` is then clean.
HTTPS = env_bool("HTTPS", False)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG and HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", HTTPS)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if HTTPS else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", HTTPS)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", HTTPS)
# The header a TLS-terminating proxy sets to say the client spoke https; without it behind a proxy every
# request looks like http and SECURE_SSL_REDIRECT loops. The proxy must overwrite a client's own value.
_PROXY_SSL_HEADER = env_str("SECURE_PROXY_SSL_HEADER", "X-Forwarded-Proto" if HTTPS else "")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"), "https") if _PROXY_SSL_HEADER else None
)
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Sent on every answer (pluralweb/security_headers.py). No inline script anywhere: data reaches scripts
# through json_script; htmx's own indicator style is off (templates/base.html). plotly.js adds two <style>
# elements of its own (allowed by their hashes, for the vendored version: tests/e2e/test_csp_browser.py
# fails when an upgrade changes them) and sets style attributes (hover labels) at run time. Plotly and the
# API docs draw images from data:/blob: URLs.
_PLOTLY_STYLE_HASHES = (
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' 'sha256-ji27qzEtxXZW+7dun6UwjHXJ18e6WAin1VvNtkzIE/o='"
)
CONTENT_SECURITY_POLICY = env_str(
    "CONTENT_SECURITY_POLICY",
    "default-src 'self'; script-src 'self'; style-src 'self'; "
    f"style-src-elem 'self' {_PLOTLY_STYLE_HASHES}; style-src-attr 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'",
)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Uncached: rights read fresh on every call. Only the annotation loop caches (annotation/loop_api.py).
        "pluralweb.auth.CheckedTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # Bounded depth and size, NUL and non-finite numbers refused with the field named (pluralweb/request_limits.py).
    "DEFAULT_PARSER_CLASSES": [
        "pluralweb.request_limits.BoundedJSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    # `?format=csv` on export means a file format, not DRF's renderer override.
    "URL_FORMAT_OVERRIDE": None,
    "EXCEPTION_HANDLER": "pluralweb.api_errors.api_exception_handler",
    # Proxies in front of the app whose X-Forwarded-For is believed (0: the socket's address; the header
    # is ignored, so a client cannot choose the address its attempts are counted under).
    "NUM_PROXIES": env_int("TRUSTED_PROXIES", 0, minimum=0),
}

# Throttle counts (pluralweb/throttling.py) and the loop's token cache (pluralweb/auth.py) live here.
# Production sets CACHE_URL=redis://... so every web process counts the same attempts and a revoked
# token stops at once everywhere; the default is this process's memory (one web process).
CACHE_URL = env_str("CACHE_URL", "")
if CACHE_URL and not CACHE_URL.startswith(("redis://", "rediss://", "unix://")):
    raise ImproperlyConfigured(f"CACHE_URL={CACHE_URL!r}: only redis://, rediss:// and unix:// are supported")
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL,
                "KEY_PREFIX": "pw", "OPTIONS": {"socket_timeout": 2, "socket_connect_timeout": 2}}
    if CACHE_URL else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pluralweb"}
}

# Attempts allowed per window (README, "Throttling"); `off` lifts a limit. Password checks are the
# expensive part of a login (PBKDF2 on the web process's cores): login-all caps them for the whole site.
PLURALWEB_THROTTLE_RATES = {
    "login-ip": env_rate("THROTTLE_LOGIN_RATE", "20/minute"),
    "login-user": env_rate("THROTTLE_LOGIN_USER_RATE", "10/minute"),
    "login-all": env_rate("THROTTLE_LOGIN_ALL_RATE", "120/minute"),
    "join-ip": env_rate("THROTTLE_JOIN_RATE", "60/hour"),
    "join-id": env_rate("THROTTLE_JOIN_ID_RATE", "10/hour"),
}

SPECTACULAR_SETTINGS = {
    "TITLE": "pluralweb API",
    "DESCRIPTION": "Pairwise preference collection across annotator groups.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "pluralweb.api_schema.error_responses_hook",
    ],
}

# Input limits (README "Limits"): each refusal is a 400 naming the field, never a 5xx or a runaway job.
PLURALWEB_MAX_TEXT_CHARS = env_int("PLURALWEB_MAX_TEXT_CHARS", 20_000, minimum=1)  # a prompt turn, a candidate
PLURALWEB_MAX_CANDIDATES_PER_PROMPT = env_int("PLURALWEB_MAX_CANDIDATES_PER_PROMPT", 50, minimum=2)
PLURALWEB_MAX_PAIRS_PER_STUDY = env_int("PLURALWEB_MAX_PAIRS_PER_STUDY", 100_000, minimum=1)
PLURALWEB_MAX_GROUPS = env_int("PLURALWEB_MAX_GROUPS", 64, minimum=1)  # product of the attributes' value counts
PLURALWEB_MAX_REWARD_TEXTS = env_int("PLURALWEB_MAX_REWARD_TEXTS", 512, minimum=1)  # responses per /reward/ call
PLURALWEB_MAX_JSON_DEPTH = env_int("PLURALWEB_MAX_JSON_DEPTH", 32, minimum=4)
# JSON and form bodies: Django's own limit, which our JSON parser applies too. Uploads (study and judgment
# files) are bounded by the whole request's size instead.
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 2_621_440, minimum=1024)
PLURALWEB_MAX_REQUEST_BYTES = env_int("PLURALWEB_MAX_REQUEST_BYTES", 256 * 1024 * 1024, minimum=1024)

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", f"sqla+sqlite:///{VAR_DIR / 'celery-broker.sqlite3'}")
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True  # job state lives in our own tables, not in a result backend
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Every broker call (connect, check, publish, a worker's reads) gives up after this many seconds: a frozen
# broker (Redis stopped, a half-open connection) then costs a launch a few seconds and a 503, never a hung request.
BROKER_TIMEOUT_SECONDS = env_int("BROKER_TIMEOUT_SECONDS", 3, minimum=1)
CELERY_BROKER_CONNECTION_TIMEOUT = BROKER_TIMEOUT_SECONDS


def broker_transport_options(url: str, timeout: int) -> dict:
    """Socket timeouts for Redis. Kombu hands a transport's options to its client, and SQLAlchemy's
    create_engine refuses socket options: on the embedded broker they failed every publish (and the worker)."""
    if url.startswith(("redis://", "rediss://")):
        return {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    return {}


CELERY_BROKER_TRANSPORT_OPTIONS = broker_transport_options(CELERY_BROKER_URL, BROKER_TIMEOUT_SECONDS)
CELERY_TIMEZONE = TIME_ZONE
CELERY_TASK_ROUTES = {
    "alignment.tasks.fit_run": {"queue": "fits"},  # GPU workers take `fits`
    "annotation.tasks.pairing_job_run": {"queue": "embeddings"},  # an import's texts, embedded off the request
    "alignment.tasks.turn_generation_run": {"queue": "generation"},  # live conversation turns: an endpoint call
}
# A fit's worker writes a heartbeat every FIT_HEARTBEAT_SECONDS; a running fit whose heartbeat is older than
# FIT_STALE_AFTER_SECONDS is failed ("the worker stopped responding") by the check beat runs every
# FIT_STALE_CHECK_SECONDS (and the run page on each poll). A killed worker is so detected after
# FIT_STALE_AFTER_SECONDS plus up to one check interval. A queued run that no worker has started after
# FIT_QUEUED_STALE_SECONDS (its message was lost, or no worker serves the `fits` queue) fails the same way.
FIT_HEARTBEAT_SECONDS = env_int("FIT_HEARTBEAT_SECONDS", 10, minimum=1)
FIT_STALE_AFTER_SECONDS = env_int("FIT_STALE_AFTER_SECONDS", 180, minimum=2)
FIT_STALE_CHECK_SECONDS = env_int("FIT_STALE_CHECK_SECONDS", 60, minimum=1)
FIT_QUEUED_STALE_SECONDS = env_int("FIT_QUEUED_STALE_SECONDS", 3600, minimum=1)
if FIT_STALE_AFTER_SECONDS < 2 * FIT_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(f"FIT_STALE_AFTER_SECONDS={FIT_STALE_AFTER_SECONDS} must be at least twice "
                               f"FIT_HEARTBEAT_SECONDS={FIT_HEARTBEAT_SECONDS}, or live runs would be failed")

# Pairing jobs (an import's embedding, annotation/pairing_jobs.py): a running job's worker beats every
# EMBEDDING_HEARTBEAT_SECONDS; beat's sweep (every minute) puts a job whose heartbeat is older than
# EMBEDDING_STALE_AFTER_SECONDS back in the queue (re-running is cheap: finished texts are cached) until it
# has been started EMBEDDING_MAX_ATTEMPTS times, then fails it; and sends again a queued job whose message
# never reached the broker, or reached it more than EMBEDDING_RESEND_SECONDS ago without a worker taking it.
EMBEDDING_HEARTBEAT_SECONDS = env_int("EMBEDDING_HEARTBEAT_SECONDS", 10, minimum=1)
EMBEDDING_STALE_AFTER_SECONDS = env_int("EMBEDDING_STALE_AFTER_SECONDS", 180, minimum=2)
EMBEDDING_MAX_ATTEMPTS = env_int("EMBEDDING_MAX_ATTEMPTS", 3, minimum=1)
EMBEDDING_RESEND_SECONDS = env_int("EMBEDDING_RESEND_SECONDS", 900, minimum=1)
if EMBEDDING_STALE_AFTER_SECONDS < 2 * EMBEDDING_HEARTBEAT_SECONDS:
    raise ImproperlyConfigured(f"EMBEDDING_STALE_AFTER_SECONDS={EMBEDDING_STALE_AFTER_SECONDS} must be at least "
                               f"twice EMBEDDING_HEARTBEAT_SECONDS={EMBEDDING_HEARTBEAT_SECONDS}")

CELERY_BEAT_SCHEDULE = {
    "sweep-pairing-jobs": {"task": "annotation.tasks.pairing_jobs_sweep", "schedule": 60.0},
    "expire-leases": {"task": "annotation.tasks.assignments_expire", "schedule": 60.0},
    "fail-stale-fit-runs": {"task": "alignment.tasks.fit_runs_fail_stale", "schedule": float(FIT_STALE_CHECK_SECONDS)},
    "launch-due-refits": {"task": "alignment.tasks.fit_runs_due", "schedule": 60.0},
    # A message older than a beat interval is dropped rather than run: a worker kept busy does not
    # find a queue of refreshes to run back to back.
    "refresh-dashboards": {"task": "alignment.tasks.dashboards_refresh", "schedule": 60.0,
                           "options": {"expires": 55.0}},
}

# Dashboard pages serve numbers at most this old unless the study's data is unchanged since (beat checks
# every minute and recomputes only studies whose judgments, exclusions, settings or leases changed).
DASHBOARD_MAX_AGE_SECONDS = env_int("DASHBOARD_MAX_AGE_SECONDS", 120, minimum=0)
# A study's dashboards are recomputed at most every DASHBOARD_REFRESH_SPACING times their last
# computation's duration (a 30 s refresh: at most every 2.5 minutes), by beat and by pages alike.
DASHBOARD_REFRESH_SPACING = env_int("DASHBOARD_REFRESH_SPACING", 5, minimum=0)
# One refresh holds a study at a time; a lease lapses after this long (a worker killed mid-refresh).
DASHBOARD_REFRESH_LEASE_SECONDS = env_int("DASHBOARD_REFRESH_LEASE_SECONDS", 600, minimum=1)
PLURALWEB_ARTIFACT_DIR = Path(env_str("PLURALWEB_ARTIFACT_DIR", str(VAR_DIR / "artifacts")))
# Threads a fit may use; default: half the cores this process may run on (at least one). Torch's
# OpenMP threads wait for each other at every op: on a shared machine, one thread per core made
# refits 4-15 times slower than on a quiet one, while the web and the other workers need cores too.
PLURALWEB_FIT_THREADS = env_int("PLURALWEB_FIT_THREADS", max(1, len(os.sched_getaffinity(0)) // 2), minimum=1)
# A PAL-B refit with fewer training judgments than this runs twice, as configured and as the more
# regularised candidate, and keeps one by validation (alignment/pal/train.py, TrainConfig.small_data_below;
# 0: always one fit). The default keeps a 300k-judgment refit to one fit, within its 60 s on 2 cores;
# it repeats TrainConfig.small_data_below (importing it here would load torch), and a test checks they agree.
PLURALWEB_PAL_TWO_FITS_BELOW = env_int("PLURALWEB_PAL_TWO_FITS_BELOW", 100_000, minimum=0)
EMBEDDING_MODEL = env_str("EMBEDDING_MODEL", "all-MiniLM-L6-v2")
# int8: a CPU copy of the model with vectors within cosine 0.99 of float32's and faster (alignment/embeddings/int8.py);
# float32: the model as shipped. A model on a GPU, or one not BERT-shaped, is float32 either way.
EMBEDDING_PRECISION = env_choice("EMBEDDING_PRECISION", "int8", set(_EMBEDDING_PRECISIONS))
# Web processes load the URLconf and the embedding model in a thread at start-up (pluralweb/startup.py).
PLURALWEB_WARM_UP = env_bool("PLURALWEB_WARM_UP", True)
# Optional OpenAI-compatible chat endpoint for negatively-correlated candidate generation.
NC_GENERATION_URL = env_str("NC_GENERATION_URL", "")
NC_GENERATION_MODEL = env_str("NC_GENERATION_MODEL", "")
NC_GENERATION_API_KEY = env_str("NC_GENERATION_API_KEY", "")
NC_GENERATION_TIMEOUT = env_int("NC_GENERATION_TIMEOUT", 120, minimum=1)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
