"""Settings, driven by environment variables.

With no environment set, the platform runs embedded: SQLite and a Celery broker on the local
filesystem (kombu's filesystem transport), both under ./var. Production sets DATABASE_URL (PostgreSQL),
CELERY_BROKER_URL (Redis or RabbitMQ), REDIS_CACHE_URL and DJANGO_SECRET_KEY; behind HTTPS also
DJANGO_HTTPS=true (docs/operations.md, "Security").
"""
from datetime import timedelta
from pathlib import Path
import os

import dj_database_url

BASE_DIR = Path(__file__).resolve().parents[2]
VAR_DIR = Path(os.environ.get("DATAPERF_VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    return os.environ.get(name, str(default)).lower() in ("1", "true", "yes", "on")


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


DEBUG = env_bool("DJANGO_DEBUG", False)
# Embedded mode (no DATABASE_URL: `make run`, the tests on SQLite) may make up its own secret key;
# anything else must be given one, or sessions and tokens would be signed with a key anyone can read.
EMBEDDED = not os.environ.get("DATABASE_URL")
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
if not SECRET_KEY:
    if not EMBEDDED:
        raise SystemExit(
            "DJANGO_SECRET_KEY is not set: outside the embedded development mode (DATABASE_URL is set) the "
            "platform refuses to start without a secret key; set DJANGO_SECRET_KEY to a long random string.")
    from backend.config.secret_key import embedded_secret_key

    SECRET_KEY = embedded_secret_key(VAR_DIR / "secret_key")
ALLOWED_HOSTS = [h for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",") if h]
CSRF_TRUSTED_ORIGINS = [o for o in os.environ.get("DJANGO_CSRF_TRUSTED_ORIGINS", "").split(",") if o]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "backend.core",
    "backend.accounts",
    "backend.challenges",
    "backend.submissions",
    "backend.leaderboards",
    "backend.verification",
    "backend.closed_division",
    "backend.jobs",
    "backend.orchestration",
    "backend.live",
    "axes",
    "csp",
]

MIDDLEWARE = [
    # First: the hot leaderboard GETs of signed-out viewers, answered from cached bytes (it adds the
    # security headers of the middlewares below itself); everything else passes through.
    "backend.leaderboards.fast.FastBoardMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "backend.accounts.lockout.KnownDeviceMiddleware",
    # Last: turns a login refused for a locked-out account or address into the 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "backend.config.urls"
WSGI_APPLICATION = "backend.config.wsgi.application"
ASGI_APPLICATION = "backend.config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "frontend" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "backend.accounts.context_processors.notifications",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        # Persistent connections outside the embedded mode (a new connection per request costs more than
        # a leaderboard page); health checks drop a connection the server closed before it is reused.
        default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 0 if EMBEDDED else 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].startswith("django.db.backends.postgresql"):
    # The web's queries are small index scans: PostgreSQL's JIT only adds compile time (seconds on a
    # large board before the ranking table existed).
    DATABASES["default"].setdefault("OPTIONS", {})["options"] = "-c jit=off"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE takes the write lock at BEGIN, so submission-limit checks cannot interleave.
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 30}

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out account or address before the password is even checked.
    "backend.accounts.lockout.LockoutBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("DJANGO_STATIC_ROOT", VAR_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "frontend" / "static"]
MEDIA_ROOT = Path(os.environ.get("DJANGO_MEDIA_ROOT", VAR_DIR / "media"))

# Email (password resets, "your submission was scored / failed"). Production: SMTP from EMAIL_HOST,
# EMAIL_PORT, EMAIL_HOST_USER, EMAIL_HOST_PASSWORD, EMAIL_USE_TLS / EMAIL_USE_SSL. The embedded mode
# (no DATABASE_URL and no EMAIL_HOST) writes each email as a file under var/mail/ instead of sending it.
EMAIL_FILE_PATH = Path(os.environ.get("DJANGO_EMAIL_FILE_PATH", VAR_DIR / "mail"))
EMAIL_BACKEND = os.environ.get("DJANGO_EMAIL_BACKEND") or (
    "django.core.mail.backends.filebased.EmailBackend" if EMBEDDED and not os.environ.get("EMAIL_HOST")
    else "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "DataPerf platform <noreply@localhost>")
# The site's address, for links in emails written outside a request (notifications from workers).
SITE_URL = os.environ.get("DATAPERF_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
# An invitation link to a team works this many days (or until the team makes a new one or revokes it).
TEAM_INVITE_DAYS = env_int("TEAM_INVITE_DAYS", 7)
# Files (datasets, submissions) go through Django's storage API only; an S3-compatible backend
# can replace "default" here without code changes. Media is never served by URL: downloads go
# through permission-checked views.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Uploads: Django's own cap on non-file bodies; submission files are capped per phase.
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 2**20
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 2**20
# Bigger uploads spool here (removed when the request ends). A killed web process leaves its files
# behind: the job sweep (backend.core.uploads.sweep_spool) removes those older than the max age, which must
# exceed the longest upload plus its validation; at least 5 minutes, so a typo cannot delete live uploads.
FILE_UPLOAD_TEMP_DIR = str(Path(os.environ.get("UPLOAD_SPOOL_DIR", VAR_DIR / "uploads")))
Path(FILE_UPLOAD_TEMP_DIR).mkdir(parents=True, exist_ok=True)
UPLOAD_SPOOL_MAX_AGE_SECONDS = max(env_int("UPLOAD_SPOOL_MAX_AGE_SECONDS", 3600), 300)
SUBMISSION_MAX_UPLOAD_BYTES = env_int("SUBMISSION_MAX_UPLOAD_BYTES", 50 * 2**20)
# What validating one upload in the web process may unpack (archives, .npz), checked from the declared
# sizes before inflating and from the bytes actually produced while streaming (evaluation/submission_io.py).
SUBMISSION_VALIDATION_BUDGET_MB = env_int("SUBMISSION_VALIDATION_BUDGET_MB", 256)

_redis_cache = os.environ.get("REDIS_CACHE_URL")
CACHES = {
    "default": (
        # Degrades to no cache when Redis is down; short timeouts so a dead Redis costs milliseconds.
        {"BACKEND": "backend.core.cache.ForgivingRedisCache", "LOCATION": _redis_cache,
         "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 1.0}}
        if _redis_cache
        # Embedded mode: files, so the web processes and the worker share it (leaderboards, suite predictions).
        else {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(VAR_DIR / "cache")}
    )
}

# Live updates pushed to open pages (backend/core/live.py, backend/live/): Redis pub/sub when a Redis is
# configured, else (embedded mode) the streams read the state from the database every LIVE_POLL_SECONDS.
LIVE_REDIS_URL = os.environ.get("LIVE_REDIS_URL") or _redis_cache or ""
LIVE_BACKEND = os.environ.get("LIVE_BACKEND") or ("redis" if LIVE_REDIS_URL else "poll")
if LIVE_BACKEND not in ("redis", "poll"):
    raise SystemExit(f"LIVE_BACKEND must be 'redis' or 'poll', not {LIVE_BACKEND!r}")
LIVE_POLL_SECONDS = env_float("LIVE_POLL_SECONDS", 0.5)
# A comment line this often keeps proxies from closing an idle stream; a stream ends after
# LIVE_STREAM_MAX_SECONDS and the browser reconnects (after the retry hint), re-checking permissions.
LIVE_HEARTBEAT_SECONDS = env_float("LIVE_HEARTBEAT_SECONDS", 15)
LIVE_STREAM_MAX_SECONDS = env_float("LIVE_STREAM_MAX_SECONDS", 300)
# A created item's live prediction when the model suite is not in the cache yet (data just changed,
# cache evicted): the request queues the worker's suite job and waits this long before answering 503.
LIVE_SUITE_WAIT_SECONDS = env_float("LIVE_SUITE_WAIT_SECONDS", 10)
LIVE_RETRY_MS = env_int("LIVE_RETRY_MS", 3000)

REST_FRAMEWORK = {
    # Token first: DRF answers an unauthenticated request with the first class's WWW-Authenticate
    # header, so a missing token is a 401 ("Token") rather than the session class's 403.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Deny unless a view says otherwise.
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "backend.core.api.exception_handler",
    # DRF's parsers, with JSON nested too deeply refused as a 400 (backend/core/parsers.py).
    "DEFAULT_PARSER_CLASSES": ["backend.core.parsers.JSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    # Every API view is throttled (429 + Retry-After); state in the cache, fail open if it is down.
    "DEFAULT_THROTTLE_CLASSES": ["backend.core.throttling.AnonRateThrottle",
                                 "backend.core.throttling.UserRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("THROTTLE_ANON_RATE", "120/min"),  # per client address, signed out
        "user": os.environ.get("THROTTLE_USER_RATE", "600/min"),  # per account
        "uploads": os.environ.get("THROTTLE_UPLOAD_RATE", "30/hour"),  # submission uploads, page and API
        "auth": os.environ.get("THROTTLE_AUTH_RATE", "20/min"),  # API token requests, per client address
        "signup": os.environ.get("THROTTLE_SIGNUP_RATE", "10/hour"),  # new accounts, per client address
        "predict": os.environ.get("THROTTLE_PREDICT_RATE", "60/min"),  # live predictions for created items, per account
    },
    # Proxies in front of the web processes (X-Forwarded-For entries to trust when telling clients apart).
    "NUM_PROXIES": env_int("DJANGO_NUM_PROXIES", 0) or None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "DataPerf platform API",
    "DESCRIPTION": "Challenges, submissions and leaderboards for data-centric AI benchmarks.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Celery ---------------------------------------------------------------------------------------
BROKER_DIR = VAR_DIR / "broker"
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    for sub in ("queue", "processed", "control"):
        (BROKER_DIR / sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
else:
    # Redis redelivers unacknowledged (acks_late) messages after this; keep it above the longest job.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 4 * 3600)}
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_DEFAULT_QUEUE = "default"
# Jobs name their queue when published (backend/jobs/registry.py: evaluation, sandbox, default).
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Seconds to wait for the broker when publishing: a web request never hangs on a broker that is down.
CELERY_BROKER_CONNECTION_TIMEOUT = env_int("CELERY_BROKER_CONNECTION_TIMEOUT", 2)
CELERY_BEAT_SCHEDULE = {
    "sweep-jobs": {
        "task": "backend.jobs.tasks.sweep_jobs",
        "schedule": timedelta(seconds=env_int("JOBS_SWEEP_INTERVAL_SECONDS", 10)),
        # Its own queue, so a sweep never waits behind long evaluations. Sweeps are idempotent; stale ones
        # expire so a backlog never builds up, but not so soon that a busy machine drops every one of them.
        "options": {"queue": "sweep", "expires": max(3 * env_int("JOBS_SWEEP_INTERVAL_SECONDS", 10), 15)},
    },
    # Processes, cgroups and scratch left by sandbox runs whose worker died (also run at worker start).
    # On the sandbox queue: it cleans the host of the sandbox worker that takes it.
    "sweep-sandboxes": {
        "task": "backend.closed_division.tasks.sweep_sandboxes",
        "schedule": timedelta(seconds=env_int("SANDBOX_SWEEP_INTERVAL_SECONDS", 60)),
        "options": {"queue": "sandbox", "expires": env_int("SANDBOX_SWEEP_INTERVAL_SECONDS", 60)},
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- Evaluation -----------------------------------------------------------------------------------
# Where workers unpack benchmark data, one directory per content hash.
EVALUATION_DATA_CACHE = Path(os.environ.get("EVALUATION_DATA_CACHE", VAR_DIR / "data-cache"))
# The evaluation library's decoded-array cache (evaluation/cache.py) lives next to the unpacked data,
# not in the home directory of whoever runs the worker.
os.environ.setdefault("EVALUATION_CACHE_DIR", str(EVALUATION_DATA_CACHE / "derived"))
# Defaults for benchmarks that set no limit of their own.
EVALUATION_TIME_LIMIT_SECONDS = env_int("EVALUATION_TIME_LIMIT_SECONDS", 1800)
EVALUATION_MEMORY_LIMIT_MB = env_int("EVALUATION_MEMORY_LIMIT_MB", 8192)
# Split submissions whose type has independent tasks (debugging) into one Celery job per task.
EVALUATION_FAN_OUT = env_bool("EVALUATION_FAN_OUT", True)

# --- Jobs (backend/jobs): leases, heartbeats and the sweep; tests shorten them ------------------------
JOBS_HEARTBEAT_SECONDS = env_float("JOBS_HEARTBEAT_SECONDS", 5)
# A running job silent for longer than this is presumed dead (its worker died) and queued again.
JOBS_STALE_AFTER_SECONDS = env_float("JOBS_STALE_AFTER_SECONDS", 20)
# Starts of a job before it is given up (a job that keeps killing its worker must stop somewhere).
JOBS_MAX_ATTEMPTS = env_int("JOBS_MAX_ATTEMPTS", 3)
# A queued job never published (broker down, process killed after commit) is published after this.
JOBS_PUBLISH_GRACE_SECONDS = env_float("JOBS_PUBLISH_GRACE_SECONDS", 5)
# A published job nobody claimed for this long is published again (the broker may have lost it).
JOBS_REPUBLISH_AFTER_SECONDS = env_float("JOBS_REPUBLISH_AFTER_SECONDS", 40)
# A running job longer than its hard time limit plus this is given up even if it still beats.
JOBS_OVERTIME_GRACE_SECONDS = env_int("JOBS_OVERTIME_GRACE_SECONDS", 120)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("DJANGO_LOG_LEVEL", "INFO")},
    # axes logs every sign-in at INFO; failures and lock-outs are WARNING.
    "loggers": {"django.db.backends": {"level": "WARNING"}, "axes": {"level": "WARNING"}},
}

# --- Security -------------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Behind HTTPS (a TLS-terminating proxy or gunicorn with certificates): Secure cookies, HSTS, redirect.
HTTPS = env_bool("DJANGO_HTTPS", False)
if HTTPS:
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SSL_REDIRECT", True)
    SECURE_HSTS_SECONDS = env_int("DJANGO_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_HSTS_PRELOAD", False)
    if env_bool("DJANGO_BEHIND_TLS_PROXY", False):
        # Only when the proxy sets this header itself and strips it from clients.
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    if not SECURE_HSTS_PRELOAD:
        # Preload-listing is the domain owner's one-way choice (DJANGO_HSTS_PRELOAD), not a default.
        SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Content-Security-Policy on every page: scripts only from our own static files (no inline script;
# the JS islands and plotly are files). plotly.js writes inline style attributes, hence 'unsafe-inline'
# for styles only. DJANGO_CSP=false turns it off (only for debugging a page).
if env_bool("DJANGO_CSP", True):
    CONTENT_SECURITY_POLICY = {
        "DIRECTIVES": {
            "default-src": ["'self'"],
            "script-src": ["'self'"],
            "style-src": ["'self'", "'unsafe-inline'"],
            "img-src": ["'self'", "data:"],
            # Pool clips and a clip recorded on the creation page play from data: URLs.
            "media-src": ["'self'", "data:"],
            "font-src": ["'self'", "data:"],
            "connect-src": ["'self'"],
            "object-src": ["'none'"],
            "base-uri": ["'self'"],
            "form-action": ["'self'"],
            "frame-ancestors": ["'none'"],
        },
    }
else:
    MIDDLEWARE.remove("csp.middleware.CSPMiddleware")

# Login lock-out (django-axes): 10 failed sign-ins for one account, or from one client address, lock
# that account / address for 15 minutes; failures during the lock-out do not extend it, so an attacker
# cannot keep a user locked out by hammering (docs/operations.md, "Security").
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15))
# Per address, and per account (but from a browser the account signed in from before: per account
# and address), see backend/accounts/lockout.py.
AXES_LOCKOUT_PARAMETERS = "backend.accounts.lockout.lockout_parameters"
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Not reset on a success: one attacker signing in to their own account would wipe their address's count.
AXES_RESET_ON_SUCCESS = False
AXES_LOCKOUT_CALLABLE = "backend.accounts.lockout.lockout_response"
AXES_IPWARE_PROXY_COUNT = env_int("DJANGO_NUM_PROXIES", 0) or None
AXES_VERBOSE = False

# plotly.js comes from the plotly package (no CDN): served as static/vendor/plotly/plotly.min.js.
import plotly as _plotly  # noqa: E402

STATICFILES_DIRS.append(("vendor/plotly", Path(_plotly.__file__).parent / "package_data"))
