"""schemathesis over every operation of the published schema, as an annotator and as an admin: no 5xx, and
every answer conforms to the schema (documented status, media type and body). Bounded: a few examples per
operation. The figures (operations, requests, statuses) print at the end of the run (pytest -s)."""

from collections import Counter

import pytest
import schemathesis
from django.contrib.auth.models import Group
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from annotation.access import ADMINS
from pluralweb.wsgi import application
from tests.factories import make_participant, make_study

schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
STATUSES: Counter = Counter()
OPERATIONS: set = set()


@pytest.fixture(scope="module", autouse=True)
def _report():
    yield
    total = sum(STATUSES.values())
    print(f"\nschemathesis: {len(OPERATIONS)} operations, {total} requests, "
          f"{sum(n for (_, code), n in STATUSES.items() if code >= 500)} answered 5xx; statuses "
          f"{dict(sorted(Counter(code for (_, code) in STATUSES.elements()).items()))}")


@pytest.fixture
def _connection_kept():
    # The real WSGI handler closes the database connection after each request; inside the test's
    # transaction that would close it under the test (Django's test client does the same disconnect).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def tokens(db, django_user_model, _connection_kept):
    """An annotator of study s1 (group party=D) and a study admin, each with an API token."""
    from annotation.roles import ensure_roles

    ensure_roles()
    study = make_study(slug="s1")
    annotator = make_participant(study, django_user_model.objects.create_user("fuzz-annotator"), party="D").user
    admin = django_user_model.objects.create_user("fuzz-admin")
    admin.groups.add(Group.objects.get(name=ADMINS))
    return {"annotator": Token.objects.create(user=annotator).key, "admin": Token.objects.create(user=admin).key}


@schema.parametrize()
@settings(max_examples=5, deadline=None, phases=[Phase.explicit, Phase.generate], database=None,
          suppress_health_check=list(HealthCheck))
def test_no_operation_answers_5xx_or_off_schema(case, tokens):
    OPERATIONS.add(case.operation.label)
    for role, token in tokens.items():
        if "slug" in (case.path_parameters or {}):
            case.path_parameters["slug"] = "s1"  # the study the callers belong to: deeper than a 404
        response = case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
        STATUSES[(f"{role} {case.operation.label}", response.status_code)] += 1
