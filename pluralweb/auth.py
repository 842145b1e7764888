"""Token authentication for the annotation loop's two views, with the token lookup cached in Django's cache.

The loop authenticates every call, and the token table lookup was a large share of each one. Every other
view authenticates through DRF's own TokenAuthentication, uncached, so roles (groups, superuser) are read
fresh on every call. The loop needs only that the token exists and its user is active, so the changes
that must reach this cache at once are a token deleted and a user changed (deactivated) or deleted: each
writes a tombstone over the token's entry once its transaction commits. A lookup stores its entry with
`add`, which never overwrites: one that read the old rows just before the change cannot bring the token
back. Writes that skip Django's signals (`QuerySet.update`, raw SQL) call token_forget() themselves;
entries also lapse after TOKEN_CACHE_SECONDS.
"""

import hashlib
import re

from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

TOKEN_CACHE_SECONDS = 60
_REVOKED = "revoked"
# What a stored key can be (the column holds 40 characters; DRF makes 40 hex digits). Anything else is
# refused before the lookup: a NUL byte there is an error of PostgreSQL's, which would answer 500.
_STORABLE_KEY = re.compile(r"[\x21-\x7e]{1,40}")


def _entry(key: str) -> str:
    return "auth:token:" + hashlib.blake2b(key.encode(), digest_size=16).hexdigest()


def token_forget(*, keys: list[str]) -> None:
    """Stop the loop's cache vouching for these tokens, once the current transaction (if any) commits."""
    entries = [_entry(key) for key in keys]
    if entries:
        transaction.on_commit(lambda: cache.set_many(dict.fromkeys(entries, _REVOKED), timeout=TOKEN_CACHE_SECONDS))


def user_tokens_forget(*, user_id: int) -> None:
    token_forget(keys=list(Token.objects.filter(user_id=user_id).values_list("key", flat=True)))


class CheckedTokenAuthentication(TokenAuthentication):
    """DRF's token authentication, with a key that no token can have refused as an invalid token."""

    def authenticate_credentials(self, key: str):
        if not _STORABLE_KEY.fullmatch(key):
            raise AuthenticationFailed("Invalid token.")
        return super().authenticate_credentials(key)


class CachedTokenAuthentication(CheckedTokenAuthentication):
    """Returns (user, None) from the cache: the loop reads only the user's id, every other field is
    deferred (loaded on first use, never stale)."""

    def authenticate(self, request):
        # The well-formed header straight from META: DRF's own reading builds the request's whole
        # header mapping first, a measurable share of each annotation-loop call. Anything unusual
        # goes through DRF's checks and messages.
        keyword, _, key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if keyword.lower() == self.keyword.lower() and key and " " not in key:
            return self.authenticate_credentials(key)
        return super().authenticate(request)

    def authenticate_credentials(self, key: str):
        entry = _entry(key)
        user_id = cache.get(entry)
        if user_id is not None and user_id != _REVOKED:
            return get_user_model().from_db("default", ["id", "is_active"], [user_id, True]), None
        user, token = super().authenticate_credentials(key)  # raises for unknown keys and inactive users
        if user_id is None:  # never over a tombstone: it lapses by itself
            cache.add(entry, user.pk, timeout=TOKEN_CACHE_SECONDS)
        return user, token


def _user_saved(sender, instance, created: bool, update_fields=None, **kwargs) -> None:
    # A sign-in saves last_login only, on every sign-in: no rights change.
    if not created and set(update_fields or ()) != {"last_login"}:
        user_tokens_forget(user_id=instance.pk)


def _token_deleted(sender, instance, **kwargs) -> None:
    token_forget(keys=[instance.key])


def connect_rights_signals() -> None:
    """Called once from AnnotationConfig.ready(). A deleted user's token is deleted with it (cascade)."""
    post_save.connect(_user_saved, sender=get_user_model(), dispatch_uid="pluralweb-auth-user-saved")
    post_delete.connect(_token_deleted, sender=Token, dispatch_uid="pluralweb-auth-token-deleted")
