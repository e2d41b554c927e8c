"""Settings for the test suite.

All state lives in one temporary directory shared through DATAPERF_VAR_DIR with the Celery worker
processes that end-to-end tests start, so test process and worker see the same database, media and
(embedded) broker. DATABASE_URL / CELERY_BROKER_URL select real PostgreSQL and Redis in CI.
"""
import os
import secrets
import tempfile

os.environ.setdefault("DATAPERF_VAR_DIR", tempfile.mkdtemp(prefix="dataperf-test-"))
# Tests on PostgreSQL are not the embedded mode, which needs a key; the workers they start inherit it.
os.environ.setdefault("DJANGO_SECRET_KEY", "test-only-" + secrets.token_urlsafe(48))

from .settings import *  # noqa: E402,F401,F403
from .settings import DATABASES, REST_FRAMEWORK, STATIC_ROOT, VAR_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Generous rates, so no test trips a limit by accident; tests of the limits set their own.
REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {
    "anon": "100000/min", "user": "100000/min", "uploads": "100000/min", "auth": "100000/min", "signup": "100000/min",
    "predict": "100000/min"}}
# Uncapped unless a test starts a worker with its own limit.
EVALUATION_MEMORY_LIMIT_MB = int(os.environ.get("EVALUATION_MEMORY_LIMIT_MB", 0))

_db = DATABASES["default"]
if _db["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so a worker process can open the same test database.
    _db["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
    _test_name = _db["TEST"]["NAME"]
else:
    _test_name = "test_" + _db["NAME"]
if os.environ.get("DATAPERF_TEST_WORKER") == "1":
    # A worker started by the tests talks to the test database the test process created.
    _db["NAME"] = _test_name

# Serve static files straight from the source folders (no collectstatic in tests).
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# Email as files under the shared test directory, also from worker processes (the test process itself
# uses Django's in-memory outbox, set by the test runner).
EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = VAR_DIR / "mail"
