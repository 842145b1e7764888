"""Token authentication with a short in-process cache: the annotation loop authenticates every request,
and the token table lookup was a large share of each one. A deleted token or deactivated user stops
working within TOKEN_CACHE_SECONDS."""

import threading
import time

from rest_framework.authentication import TokenAuthentication

TOKEN_CACHE_SECONDS = 60
_MAX_ENTRIES = 10_000


class CachedTokenAuthentication(TokenAuthentication):
    _cache: dict[str, tuple[float, tuple]] = {}
    _lock = threading.Lock()

    def authenticate(self, request):
        # The well-formed header straight from META: DRF's own reading builds the request's whole
        # header mapping first, a measurable share of each annotation-loop call. Anything unusual
        # goes through DRF's checks and messages.
        keyword, _, key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if keyword.lower() == self.keyword.lower() and key and " " not in key:
            return self.authenticate_credentials(key)
        return super().authenticate(request)

    def authenticate_credentials(self, key: str):
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        result = super().authenticate_credentials(key)  # raises for unknown keys and inactive users
        with self._lock:
            if len(self._cache) >= _MAX_ENTRIES:
                self._cache.clear()
            self._cache[key] = (now + TOKEN_CACHE_SECONDS, result)
        return result
