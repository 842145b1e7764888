"""What the PostgreSQL benchmarks share: a scratch database and the environment the app runs under."""

import os

import psycopg

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"


def bench_env(database: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({
        "DJANGO_SETTINGS_MODULE": "pluralweb.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "SECRET_KEY": "bench-only",
        "DJANGO_DEBUG": "0",
        "ALLOWED_HOSTS": "testserver,127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",  # a log line per request would be measured as app time
        "THROTTLE_JOIN_RATE": "off",  # every simulated annotator joins from 127.0.0.1
    })
    return env


def database_recreate(name: str) -> None:
    # CREATE/DROP DATABASE cannot run inside a transaction, hence autocommit.
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_drop(name: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def django_on_scratch_database(suffix: str, root) -> str:
    """A fresh, migrated database `<DATABASE_URL's name><suffix>` beside the one DATABASE_URL names, and
    Django set up on it in this process; returns its name. Exits when DATABASE_URL is not PostgreSQL."""
    import subprocess
    import sys
    from urllib.parse import urlparse

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit(f"set DATABASE_URL to a PostgreSQL database (the bench uses <its name>{suffix} beside it)")
    database = urlparse(url).path.lstrip("/") + suffix
    database_recreate(database)
    env = bench_env(database)
    subprocess.run([sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"], cwd=root, env=env, check=True)
    os.environ.update(env)
    sys.path.insert(0, str(root))
    import django

    django.setup()
    return database
