"""Production settings: `check --deploy` clean with HTTPS=1, a Content-Security-Policy on every answer."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from pluralweb.env import env_rate

ROOT = Path(__file__).resolve().parent.parent


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SECRET", "HTTPS", "SECURE_"))}
    env = {"DJANGO_SETTINGS_MODULE": "pluralweb.settings", "DJANGO_DEBUG": "0",
           "ALLOWED_HOSTS": "pluralweb.example.org",
           "SECRET_KEY": "k" * 20 + "-a-long-random-production-secret-key-with-enough-characters-0123456789", **env}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


def test_check_deploy_is_clean_with_https_on():
    done = _manage("check", "--deploy", "--tag", "security", "--fail-level", "WARNING", HTTPS="1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues" in done.stdout


def test_check_deploy_names_what_is_missing_without_https():
    done = _manage("check", "--deploy", "--tag", "security", "--fail-level", "WARNING")
    assert done.returncode != 0
    assert "security.W004" in done.stderr and "security.W008" in done.stderr


def test_https_sets_the_proxy_header_hsts_and_redirect():
    code = ("from django.conf import settings as s; "
            "print(s.SECURE_PROXY_SSL_HEADER, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE)")
    shown = _manage("shell", "--no-imports", "-v", "0", "-c", code, HTTPS="1")
    assert shown.stdout.split() == ["('HTTP_X_FORWARDED_PROTO',", "'https')", "True", "31536000", "True"]


def test_behind_the_proxy_https_requests_get_hsts_and_plain_http_is_redirected(client, settings, db):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    plain = client.get("/healthz")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    secure = client.get("/healthz", HTTP_X_FORWARDED_PROTO="https")
    assert secure.status_code == 200 and secure["Strict-Transport-Security"].startswith("max-age=3600")


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/api/docs/", "/s/s1/", "/api/studies/", "/healthz"])
def test_every_answer_carries_the_content_security_policy(client, study, path):
    policy = client.get(path)["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["script-src"] == "'self'" and directives["default-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"


def test_the_api_docs_page_has_no_inline_script_or_style(client, db):
    page = client.get("/api/docs/").content.decode()
    assert "<style" not in page
    assert all("src=" in tag.split(">")[0] for tag in page.split("<script")[1:])


def test_rates_read_from_the_environment_fail_loudly(monkeypatch):
    monkeypatch.setenv("X_RATE", "10/minute")
    assert env_rate("X_RATE", "off") == (10, 60)
    monkeypatch.setenv("X_RATE", "off")
    assert env_rate("X_RATE", "5/h") is None
    for bad in ("ten/minute", "10/fortnight", "0/m", "10"):
        monkeypatch.setenv("X_RATE", bad)
        with pytest.raises(ImproperlyConfigured, match="X_RATE"):
            env_rate("X_RATE", "off")
