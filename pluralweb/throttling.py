"""Rate limits on the doors that check passwords or create accounts: token and web login, API and page join.

Counts live in Django's cache, so with CACHE_URL pointing at Redis every web process counts the same
attempts. Each window is counted with `add` + `incr`, both atomic in Redis and in the local-memory cache:
no read-modify-write race between processes. The limit applies to a sliding window, estimated from the
current window's count plus the previous window's weighted by how much of it still overlaps: fixed windows
alone let a client spend two limits across a boundary, and forgot a burst the moment a window rolled over.
The annotation loop (next, submit) is never throttled.
"""

import hashlib
import logging
import math
import time
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

# Scopes and what each counts by; the rates are settings (PLURALWEB_THROTTLE_RATES, README).
LOGIN_IP, LOGIN_USER, LOGIN_ALL = "login-ip", "login-user", "login-all"
JOIN_IP, JOIN_ID = "join-ip", "join-id"


def client_ip(request: HttpRequest) -> str:
    # DRF's reading of REMOTE_ADDR / X-Forwarded-For, trusting as many proxies as NUM_PROXIES says
    # (TRUSTED_PROXIES): a client cannot pick its own address by sending the header.
    return BaseThrottle().get_ident(request)


def throttle_hit(scope: str, ident: str) -> int | None:
    """Count one attempt of `ident` in `scope`; the seconds to wait when it is over the rate, else None."""
    rate = settings.PLURALWEB_THROTTLE_RATES.get(scope)
    if rate is None or not ident:
        return None
    limit, seconds = rate
    now = time.time()
    window = int(now // seconds)
    # Hashed: usernames and crowd ids stay out of the cache's key space (and its key-length rules).
    digest = hashlib.blake2b(ident.encode(), digest_size=12).hexdigest()
    prefix = f"throttle:{scope}:{digest}:"
    try:
        # Kept for two windows: the next window still weighs this one's count.
        current = _count(f"{prefix}{window}", 2 * seconds + 1)
        previous = int(cache.get(f"{prefix}{window - 1}") or 0)
    except Exception:  # noqa: BLE001 - an unreachable cache must not close the doors: count nothing
        logger.warning("throttle %s: the cache is unreachable; attempt not counted", scope, exc_info=True)
        return None
    return sliding_wait(limit, seconds, current, previous, now / seconds - window)


def sliding_wait(limit: int, seconds: int, current: int, previous: int, elapsed: float) -> int | None:
    """Seconds until the sliding-window estimate is back within `limit`, or None when it is within now.

    `elapsed` is the fraction (0..1) of the current window gone; the estimate is
    current + previous * (1 - elapsed), which falls as the window goes on.
    """
    if current + previous * (1.0 - elapsed) <= limit:
        return None
    if current <= limit:
        # Within this window: once previous * (1 - f) <= limit - current.
        fraction = 1.0 - (limit - current) / previous
        return max(1, math.ceil((fraction - elapsed) * seconds))
    # Not before the next window, and there once current * (1 - f) <= limit.
    fraction = 1.0 - limit / current
    return max(1, math.ceil((1.0 - elapsed + fraction) * seconds))


def _count(key: str, timeout: int) -> int:
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key)
    except ValueError:  # the window's key expired between add and incr
        cache.add(key, 1, timeout=timeout)
        return 1


def attempt_wait(checks: Iterable[tuple[str, str]]) -> int | None:
    """Count the attempt in every (scope, ident) given; the longest wait any of them imposes, or None."""
    waits = [wait for scope, ident in checks if (wait := throttle_hit(scope, ident)) is not None]
    return max(waits) if waits else None


def login_checks(request: HttpRequest, username: object) -> list[tuple[str, str]]:
    name = username.strip().lower() if isinstance(username, str) else ""
    return [(LOGIN_ALL, "all"), (LOGIN_IP, client_ip(request)), (LOGIN_USER, name)]


def join_checks(request: HttpRequest, external_id: object) -> list[tuple[str, str]]:
    crowd_id = external_id.strip() if isinstance(external_id, str) else ""
    return [(JOIN_IP, client_ip(request)), (JOIN_ID, crowd_id)]


def throttled_page(request: HttpRequest, wait: int) -> HttpResponse:
    """The pages' 429: a message and Retry-After, as the API's throttles answer."""
    message = _("Too many attempts. Please wait %(seconds)d seconds and try again.") % {"seconds": wait}
    response = render(request, "annotation/message.html", {"message": message}, status=429)
    response["Retry-After"] = str(wait)
    return response


class _DoorThrottle(BaseThrottle):
    """A DRF throttle over attempt_wait(): DRF answers 429 with Retry-After from wait()."""

    field = ""

    def allow_request(self, request, view) -> bool:
        data = request.data if isinstance(request.data, dict) else {}
        self._wait = attempt_wait(self.checks(request, data.get(self.field)))
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait

    def checks(self, request, value: object) -> list[tuple[str, str]]:
        raise NotImplementedError


class LoginThrottle(_DoorThrottle):
    field = "username"

    def checks(self, request, value: object) -> list[tuple[str, str]]:
        return login_checks(request, value)


class JoinThrottle(_DoorThrottle):
    field = "external_id"

    def checks(self, request, value: object) -> list[tuple[str, str]]:
        return join_checks(request, value)
