"""Small study files and participants that tests build on."""

import io
import json
import os

from rest_framework.test import APIClient

from annotation.groups import group_key
from annotation.models import Participant
from annotation.study_files import study_import

PARTY = {"party": ["D", "R"]}


def study_lines(*, slug="s1", prompts=3, candidates=3, overlap=3, quota=20, group_attributes=None,
                strategy="all", language="en", **extra) -> list[dict]:
    header = {"study": {
        "slug": slug, "title": f"Study {slug}",
        "group_attributes": PARTY if group_attributes is None else group_attributes,
        "overlap": overlap, "quota": quota, "consent": "I agree to the terms.", "completion_code": "CODE-1",
        "language": language, "pair_strategy": strategy, **extra,
    }}
    lines = [header]
    for p in range(prompts):
        lines.append({
            "prompt_id": f"p{p}", "turns": [{"role": "user", "content": f"Question number {p} about values?"}],
            "tags": ["t"], "language": language,
            "candidates": [
                {"candidate_id": f"p{p}c{c}", "text": f"Answer {c} to question {p}: stance {c * 7 + p}.",
                 "source": "test", "strategy": "written"}
                for c in range(candidates)
            ],
        })
    return lines


def jsonl_bytes(lines: list) -> io.BytesIO:
    return io.BytesIO("".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines).encode())


def make_study(**kwargs):
    return study_import(jsonl_bytes(study_lines(**kwargs)), source="test.jsonl").study


def make_participant(study, user=None, *, party="D", external_id=None, **attributes):
    attrs = {name: value for name, value in {"party": party, **attributes}.items() if name in study.group_attributes}
    return Participant.objects.create(
        study=study, user=user, external_id=external_id or (user.username if user else f"ann-{party}"),
        attributes=attrs, group_key=group_key(attrs, study.group_attributes),
    )


def client_for(user) -> APIClient:
    """Signed in through the session, as a browser is (Django's test client skips the CSRF check)."""
    client = APIClient()
    client.force_login(user)
    return client


def require(flag: str) -> bool:
    """CI sets PLURALWEB_REQUIRE_* so that a missing service fails instead of skipping."""
    return os.environ.get(flag) == "1"
