"""Token authentication for the annotation loop's two views, with the token lookup cached in Django's cache.

The loop authenticates every call, and the token table lookup was a large share of each one. Every other
view authenticates through DRF's own TokenAuthentication, uncached. Rights changes take effect at once:
any change that can take rights away (a token deleted; a user changed, deactivated or deleted; group
membership changed; a group renamed or deleted) replaces a generation stamp once its transaction commits,
and a cached entry counts only under the stamp it was stored with. Stamping after commit closes the race
with a lookup that read the old rows: it stored the old stamp. Writes that skip Django's signals
(`QuerySet.update`, raw SQL) call rights_changed() themselves; entries also lapse after
TOKEN_CACHE_SECONDS.
"""

import hashlib
import uuid

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

TOKEN_CACHE_SECONDS = 60
_STAMP = "auth:rights-stamp"


def rights_changed() -> None:
    """Drop every cached token lookup, once the current transaction (if any) commits."""
    transaction.on_commit(lambda: cache.set(_STAMP, uuid.uuid4().hex, timeout=None))


def _current_stamp() -> str:
    stamp = cache.get(_STAMP)
    if stamp is None:
        # Never a reused value: an evicted stamp must not bring back entries stored under an old one.
        cache.add(_STAMP, uuid.uuid4().hex, timeout=None)
        stamp = cache.get(_STAMP)
    return stamp


class CachedTokenAuthentication(TokenAuthentication):
    def authenticate(self, request):
        # The well-formed header straight from META: DRF's own reading builds the request's whole
        # header mapping first, a measurable share of each annotation-loop call. Anything unusual
        # goes through DRF's checks and messages.
        keyword, _, key = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if keyword.lower() == self.keyword.lower() and key and " " not in key:
            return self.authenticate_credentials(key)
        return super().authenticate(request)

    def authenticate_credentials(self, key: str):
        entry = "auth:token:" + hashlib.blake2b(key.encode(), digest_size=16).hexdigest()
        found = cache.get_many([entry, _STAMP])  # one round trip to Redis
        hit, stamp = found.get(entry), found.get(_STAMP)
        if hit is not None and stamp is not None and hit[0] == stamp:
            return hit[1]
        stamp = stamp or _current_stamp()  # read before the lookup: see the module's docstring
        result = super().authenticate_credentials(key)  # raises for unknown keys and inactive users
        cache.set(entry, (stamp, result), timeout=TOKEN_CACHE_SECONDS)
        return result


def _user_saved(sender, instance, created: bool, update_fields=None, **kwargs) -> None:
    # A sign-in saves last_login only: no rights change, and it happens on every sign-in.
    if not created and set(update_fields or ()) != {"last_login"}:
        rights_changed()


def _rights_changed(sender, **kwargs) -> None:
    rights_changed()


def _membership_changed(sender, action: str, **kwargs) -> None:
    if action in {"post_add", "post_remove", "post_clear"}:
        rights_changed()


def connect_rights_signals() -> None:
    """Called once from AnnotationConfig.ready(): the changes that can take rights away."""
    user_model = get_user_model()
    post_save.connect(_user_saved, sender=user_model, dispatch_uid="pluralweb-auth-user-saved")
    post_delete.connect(_rights_changed, sender=user_model, dispatch_uid="pluralweb-auth-user-deleted")
    post_delete.connect(_rights_changed, sender=Token, dispatch_uid="pluralweb-auth-token-deleted")
    post_save.connect(_rights_changed, sender=Group, dispatch_uid="pluralweb-auth-group-saved")
    post_delete.connect(_rights_changed, sender=Group, dispatch_uid="pluralweb-auth-group-deleted")
    for through in (user_model.groups.through, user_model.user_permissions.through):
        m2m_changed.connect(_membership_changed, sender=through, dispatch_uid=f"pluralweb-auth-{through.__name__}")
