"""Test settings: the real stack with faster password hashing and a file-backed SQLite test database.

The SQLite test database is a file (not in-memory) so that a real Celery worker process and
concurrent threads see the same data the test wrote.
"""

import os

os.environ.setdefault("DJANGO_DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-only-key-not-secret")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")

from pluralweb.settings import *  # noqa: E402,F403
from pluralweb.settings import DATABASES, VAR_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # One file per test process, so that two test runs on one checkout never share a database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-pluralweb-{os.getpid()}.sqlite3")}

# Dashboards compute live in tests unless a test asks for snapshots (tests/alignment/test_dashboards.py).
DASHBOARD_MAX_AGE_SECONDS = 0
# ...and a stale snapshot is recomputed at once, however long the last computation took.
DASHBOARD_REFRESH_SPACING = 0

# Local memory whatever CACHE_URL says: tests clear the cache between them (tests/conftest.py), and
# clearing a Redis cache empties its whole database, a broker's queues included.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "pluralweb-tests"}}
