"""Roles: annotators see their own work, researchers read everything, admins create and launch.

Roles are Django groups (created by a migration) so they can be granted in the Django admin;
superusers count as admins.
"""

from django.contrib.auth.models import AbstractBaseUser
from rest_framework.permissions import BasePermission

RESEARCHERS = "researchers"
ADMINS = "admins"


def _in_group(user: AbstractBaseUser, name: str) -> bool:
    if not user or not user.is_authenticated:
        return False
    cached = getattr(user, "_pluralweb_groups", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._pluralweb_groups = cached
    return name in cached


def is_admin(user: AbstractBaseUser) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or _in_group(user, ADMINS)))


def is_researcher(user: AbstractBaseUser) -> bool:
    return is_admin(user) or _in_group(user, RESEARCHERS)


class IsResearcher(BasePermission):
    message = "Only researchers and admins may read study data."

    def has_permission(self, request, view) -> bool:
        return is_researcher(request.user)


class IsStudyAdmin(BasePermission):
    message = "Only admins may do this."

    def has_permission(self, request, view) -> bool:
        return is_admin(request.user)
