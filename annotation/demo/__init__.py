"""The demo study and its cast, for the README's first command."""

import secrets
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from annotation.access import ADMINS, RESEARCHERS
from annotation.demo.simulated import simulated_judgments_import
from annotation.groups import group_key
from annotation.models import Candidate, Participant, Prompt, Study
from annotation.pairing import pairs_create
from annotation.roles import ensure_roles
from annotation.study_files import study_import

DEMO_FILE = Path(__file__).with_name("demo_study.jsonl")
DEMO_SLUG = "demo"
# username -> (role, party for annotators)
CAST = {
    "admin": ("admin", None),
    "researcher": ("researcher", None),
    "annotator-d": ("annotator", "D"),
    "annotator-r": ("annotator", "R"),
}


@transaction.atomic
def demo_load() -> dict[str, str]:
    """Load the demo study if absent (with random pairs beside its NC pairs, and simulated judgments from
    both groups) and (re)set the demo logins; returns {username: password}."""
    ensure_roles()
    study = Study.objects.filter(slug=DEMO_SLUG).first()
    if study is None:
        with DEMO_FILE.open("rb") as stream:
            study = study_import(stream, source=DEMO_FILE.name).study
        _random_pairs(study)
        simulated_judgments_import(study, now=timezone.now())
    return {name: _demo_user(study, name, role, party) for name, (role, party) in CAST.items()}


def _random_pairs(study: Study) -> None:
    # The study samples NC pairs; random ones beside them give the "NC vs random" dashboard a baseline.
    for prompt in Prompt.objects.filter(study=study).order_by("id"):
        candidates = list(Candidate.objects.filter(prompt=prompt).order_by("id"))
        pairs_create(study=study, prompt=prompt, candidates=candidates, strategy=Study.PairStrategy.RANDOM)


def _demo_user(study: Study, username: str, role: str, party: str | None) -> str:
    user_model = get_user_model()
    user, _ = user_model.objects.get_or_create(username=username)
    password = secrets.token_urlsafe(9)  # fresh every run: no fixed credentials anywhere
    user.set_password(password)
    user.is_staff = role in {"admin", "researcher"}
    user.is_superuser = role == "admin"
    user.save()
    if role in {"admin", "researcher"}:
        user.groups.add(Group.objects.get(name=ADMINS if role == "admin" else RESEARCHERS))
    if party is not None:
        attributes = {"party": party}
        Participant.objects.get_or_create(
            study=study, user=user,
            defaults={"external_id": username, "attributes": attributes,
                      "group_key": group_key(attributes, study.group_attributes), "consented_at": timezone.now()},
        )
    return password
