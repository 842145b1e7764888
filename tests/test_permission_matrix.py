"""The permission matrix: every URL of pluralweb.urls x every role, with the status each must get.

Generated from the URL resolver: a URL without a row here fails `test_every_url_has_a_row`, so a new
endpoint or page cannot ship without its expected answers. Requests carry no valid body: past the
permission check a write answers 400 (or redirects back to its form), so the status says who got in.
The Django admin's routes follow one rule per kind of route (its own permission checks, per model).
"""

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from alignment.models import FitRun
from annotation.access import ADMINS, RESEARCHERS
from annotation.assignment import pair_next_for_annotator
from annotation.models import Study
from annotation.roles import ensure_roles
from tests.factories import make_participant, make_study

ROLES = ("anonymous", "stranger", "annotator", "other_annotator", "researcher", "admin")

# Pages that need a sign-in send strangers to the login page (302); the API answers 401/403.
LOGIN = 302
# Expected status per role, in ROLES order: anonymous, signed-in stranger, annotator of study s1,
# annotator of study s2 only, researcher, admin. `{slug}` is s1, `{run}` a fit run of s1, `{pk}` the s1
# annotator's live assignment, `{participant_id}` the s1 annotator.
ROWS: dict[tuple[str, str], tuple[int, ...]] = {
    ("", "GET"): (200, 200, 200, 200, 200, 200),
    ("healthz", "GET"): (200, 200, 200, 200, 200, 200),
    ("accounts/login/", "GET"): (200, 200, 200, 200, 200, 200),
    ("accounts/login/", "POST"): (200, 200, 200, 200, 200, 200),  # the form again, with its error
    ("accounts/logout/", "POST"): (200, 200, 200, 200, 200, 200),  # the signed-out page
    ("api/auth/token/", "POST"): (400, 400, 400, 400, 400, 400),
    ("api/schema/", "GET"): (200, 200, 200, 200, 200, 200),
    ("api/docs/", "GET"): (200, 200, 200, 200, 200, 200),
    # The annotation loop: participants of the study only.
    ("api/studies/<slug:slug>/next/", "POST"): (401, 403, 200, 403, 403, 403),
    ("api/judgments/", "POST"): (401, 400, 400, 400, 400, 400),
    ("api/set-judgments/", "POST"): (401, 400, 400, 400, 400, 400),
    ("api/studies/<slug:slug>/join/", "POST"): (400, 400, 400, 400, 400, 400),
    ("api/assignments/<int:pk>/renew/", "POST"): (401, 403, 200, 403, 403, 403),  # one's own lease only
    ("api/assignments/<int:pk>/skip/", "POST"): (401, 403, 200, 403, 403, 403),
    ("api/studies/", "GET"): (401, 403, 403, 403, 200, 200),
    ("api/studies/", "POST"): (401, 403, 403, 403, 403, 400),
    ("api/studies/<slug:slug>/", "GET"): (401, 403, 403, 403, 200, 200),
    ("api/studies/<slug:slug>/export/", "GET"): (401, 403, 403, 403, 200, 200),
    ("api/studies/<slug:slug>/judgments/import/", "POST"): (401, 403, 403, 403, 403, 400),
    ("api/studies/<slug:slug>/fits/", "GET"): (401, 403, 403, 403, 200, 200),
    ("api/studies/<slug:slug>/fits/", "POST"): (401, 403, 403, 403, 403, 400),
    ("api/fits/<int:run_id>/", "GET"): (401, 403, 403, 403, 200, 200),
    ("api/fits/<int:run_id>/cancel/", "POST"): (401, 403, 403, 403, 403, 200),
    ("api/studies/<slug:slug>/reward/", "POST"): (401, 403, 403, 403, 400, 400),
    ("api/studies/<slug:slug>/mixture/", "POST"): (401, 403, 403, 403, 400, 400),
    ("api/studies/<slug:slug>/examples/", "POST"): (401, 403, 403, 403, 400, 400),
    ("api/studies/<slug:slug>/bridging/", "GET"): (401, 403, 403, 403, 200, 200),
    # Dashboards and model pages: researchers and admins.
    **{(f"studies/<slug:slug>/dashboards/{name}/", "GET"): (LOGIN, 403, 403, 403, 200, 200)
       for name in ("divergence", "leaderboard", "strategies", "progress", "bridging", "pal", "spica")},
    ("studies/<slug:slug>/models/", "GET"): (LOGIN, 403, 403, 403, 200, 200),
    ("studies/<slug:slug>/models/launch/", "POST"): (LOGIN, 403, 403, 403, 403, 302),  # defaults: a PAL run
    ("studies/<slug:slug>/fits/<int:run_id>/", "GET"): (LOGIN, 403, 403, 403, 200, 200),
    ("studies/<slug:slug>/fits/<int:run_id>/progress/", "GET"): (LOGIN, 403, 403, 403, 200, 200),
    ("studies/<slug:slug>/fits/<int:run_id>/cancel/", "POST"): (LOGIN, 403, 403, 403, 403, 302),
    ("studies/<slug:slug>/quality/", "GET"): (LOGIN, 403, 403, 403, 200, 200),
    # Researchers flag, admins exclude: without an action both get the form's 400.
    ("studies/<slug:slug>/quality/<int:participant_id>/", "POST"): (LOGIN, 403, 403, 403, 400, 400),
    # Annotator pages: anyone may open the join link; the rest send non-participants to it.
    ("s/<slug:slug>/", "GET"): (200, 200, 302, 200, 200, 200),
    ("s/<slug:slug>/profile/", "GET"): (302, 302, 302, 302, 302, 302),
    ("s/<slug:slug>/annotate/", "GET"): (302, 302, 200, 302, 302, 302),
    ("s/<slug:slug>/judge/", "POST"): (403, 403, 400, 403, 403, 403),
    ("s/<slug:slug>/done/", "GET"): (302, 302, 302, 302, 302, 302),
    ("s/<slug:slug>/renew/", "POST"): (403, 403, 400, 403, 403, 403),
    ("s/<slug:slug>/skip/", "POST"): (403, 403, 400, 403, 403, 403),
    ("s/<slug:slug>/practice/", "GET"): (302, 302, 302, 302, 302, 302),  # s1 has no practice: on to annotate
    # Live conversations (s1 is a pair study: its annotator is told so, or sent to the annotate page); a
    # conversation is its annotator's only: anyone else's, like one that does not exist, is not found.
    ("api/studies/<slug:slug>/conversations/", "GET"): (401, 403, 409, 403, 403, 403),
    ("api/studies/<slug:slug>/conversations/", "POST"): (401, 403, 409, 403, 403, 403),
    ("api/conversations/<int:pk>/", "GET"): (401, 404, 404, 404, 404, 404),
    ("api/conversations/<int:pk>/turns/", "POST"): (401, 404, 404, 404, 404, 404),
    ("api/conversations/<int:pk>/turns/<int:turn>/judgment/", "POST"): (401, 404, 404, 404, 404, 404),
    ("api/conversations/<int:pk>/retry/", "POST"): (401, 404, 404, 404, 404, 404),
    ("s/<slug:slug>/conversation/", "GET"): (302, 302, 302, 302, 302, 302),
    ("s/<slug:slug>/conversation/act/", "POST"): (403, 403, 302, 403, 403, 403),
}

# The Django admin: staff only (researchers and admins are staff here). Researchers view our models,
# admins change them; neither touches Django's users, groups or tokens.
ADMIN_ROUTES = {
    "admin/": (LOGIN, LOGIN, LOGIN, LOGIN, 200, 200),
    "admin/login/": (200, 200, 200, 200, 302, 302),
    "admin/logout/": (LOGIN, LOGIN, LOGIN, LOGIN, 405, 405),  # POST only
    "admin/password_change/": (LOGIN, LOGIN, LOGIN, LOGIN, 200, 200),
    "admin/password_change/done/": (LOGIN, LOGIN, LOGIN, LOGIN, 200, 200),
    "admin/autocomplete/": (LOGIN, LOGIN, LOGIN, LOGIN, 403, 403),
    "admin/jsi18n/": (LOGIN, LOGIN, LOGIN, LOGIN, 200, 200),
}
OURS = {"annotation", "alignment"}
# Filled by the app, never added by hand.
READ_ONLY = {"alignment/textembedding", "alignment/fitrun", "annotation/pairingjob", "annotation/turngeneration"}


def _admin_expected(route: str) -> tuple[int, ...] | None:
    if route in ADMIN_ROUTES:
        return ADMIN_ROUTES[route]
    parts = route.removeprefix("admin/").rstrip("/").split("/")
    if "(?P<app_label>" in route or parts[0] == "r":
        return None  # app index and "view on site" links: checked by Django's own tests
    app = parts[0]
    ours = app in OURS
    if len(parts) == 2:  # the changelist
        return (LOGIN, LOGIN, LOGIN, LOGIN, 200 if ours else 403, 200 if ours else 403)
    if parts[2:] == ["add"]:
        may_add = ours and f"{app}/{parts[1]}" not in READ_ONLY
        return (LOGIN, LOGIN, LOGIN, LOGIN, 403, 200 if may_add else 403)
    return None  # object routes: the changelist's rule, on an object id


def _routes(patterns=None, prefix: str = ""):
    for pattern in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern)


def _cases():
    for route in dict.fromkeys(_routes()):
        if route.startswith("admin/"):
            expected = _admin_expected(route)
            if expected is not None:
                yield from ((route, "GET", role, status) for role, status in zip(ROLES, expected, strict=True))
            continue
        for (row_route, method), expected in ROWS.items():
            if row_route == route:
                yield from ((route, method, role, status) for role, status in zip(ROLES, expected, strict=True))


CASES = list(_cases())


def test_every_url_has_a_row():
    covered = {route for route, _method in ROWS}
    missing = [r for r in dict.fromkeys(_routes()) if not r.startswith("admin/") and r not in covered]
    assert not missing, f"add the expected statuses of {missing} to ROWS"
    assert not covered - set(_routes()), "ROWS names a URL that no longer exists"


@pytest.fixture(scope="module")
def cast(django_db_setup, django_db_blocker):
    """Two studies, one participant in each (s1's holding a leased pair), a researcher and an admin (staff),
    a stranger, a fit run."""
    with django_db_blocker.unblock():
        ensure_roles()
        s1, s2 = make_study(slug="s1"), make_study(slug="s2")
        from django.contrib.auth import get_user_model

        users = get_user_model().objects
        cast = {"anonymous": None, "stranger": users.create_user("m-stranger")}
        annotator = make_participant(s1, users.create_user("m-ann"), party="D")
        cast["annotator"] = annotator.user
        cast["other_annotator"] = make_participant(s2, users.create_user("m-other"), party="R").user
        for role, group in (("researcher", RESEARCHERS), ("admin", ADMINS)):
            cast[role] = users.create_user(f"m-{role}", is_staff=True)
            cast[role].groups.add(Group.objects.get(name=group))
        run = FitRun.objects.create(study=s1, kind="pal")
        ids = {"run_id": run.pk, "pk": pair_next_for_annotator(participant=annotator).assignment_id,
               "participant_id": annotator.pk, "turn": 1}
        yield cast, ids
        Study.objects.filter(pk__in=[s1.pk, s2.pk]).delete()
        users.filter(username__startswith="m-").delete()


def _path(route: str, ids: dict[str, int]) -> str:
    path = route.replace("<slug:slug>", "s1")
    for name, pk in ids.items():
        path = path.replace(f"<int:{name}>", str(pk))
    return "/" + path


@pytest.mark.parametrize(("route", "method", "role", "expected"), CASES,
                         ids=[f"{m} /{r} as {who}" for r, m, who, _ in CASES])
def test_the_permission_matrix(cast, db, route, method, role, expected):
    users, ids = cast
    client = Client()
    if users[role] is not None:
        client.force_login(users[role])
    path = _path(route, ids)
    if method == "GET":
        response = client.get(path)
    else:
        response = client.post(path, "{}", content_type="application/json")
    assert response.status_code == expected, f"{method} {path} as {role}"
