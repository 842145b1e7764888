"""Settings read from the environment fail loudly on bad values."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from pluralweb.env import env_bool, env_int

ROOT = Path(__file__).resolve().parent.parent


def test_env_bool_rejects_a_value_that_is_not_a_boolean(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG='maybe' is not a boolean"):
        env_bool("X_FLAG")
    monkeypatch.setenv("X_FLAG", "Yes")
    assert env_bool("X_FLAG") is True


def test_env_int_rejects_non_integers_and_values_below_the_minimum(monkeypatch):
    monkeypatch.setenv("X_N", "ten")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("X_N", 1)
    monkeypatch.setenv("X_N", "0")
    with pytest.raises(ImproperlyConfigured, match="at least 1"):
        env_int("X_N", 1, minimum=1)


def _load_settings(**env) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DJANGO_DEBUG", "DATABASE_URL"}}
    return subprocess.run(
        [sys.executable, "-c", "import pluralweb.settings"], cwd=ROOT, env={**clean, **env},
        capture_output=True, text=True, timeout=60,
    )


def test_settings_refuse_to_start_without_a_secret_key_when_debug_is_off():
    result = _load_settings(DJANGO_DEBUG="0", ALLOWED_HOSTS="example.org")
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def test_settings_refuse_an_unsupported_database_url():
    result = _load_settings(DJANGO_DEBUG="0", SECRET_KEY="k", ALLOWED_HOSTS="x", DATABASE_URL="mysql://u@h/db")
    assert result.returncode != 0 and "only sqlite:// and postgres://" in result.stderr


def test_debug_is_off_unless_asked_for():
    result = _load_settings(SECRET_KEY="k", ALLOWED_HOSTS="x")
    assert result.returncode == 0, result.stderr
    check = subprocess.run(
        [sys.executable, "-c", "import pluralweb.settings as s; print(s.DEBUG, s.SESSION_COOKIE_SECURE is not None)"],
        cwd=ROOT, env={**os.environ, "SECRET_KEY": "k", "ALLOWED_HOSTS": "x", "DJANGO_DEBUG": ""},
        capture_output=True, text=True, timeout=60,
    )
    assert check.stdout.split()[0] == "False"


def test_settings_refuse_an_unknown_embedding_precision():
    result = _load_settings(DJANGO_DEBUG="0", SECRET_KEY="k", ALLOWED_HOSTS="x", EMBEDDING_PRECISION="int4")
    assert result.returncode != 0 and "EMBEDDING_PRECISION='int4' must be one of ['float32', 'int8']" in result.stderr
