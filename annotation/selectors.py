"""Reads for pages and the API."""

import threading
import time

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Count

from annotation.errors import Forbidden, NotFound
from annotation.models import Assignment, CandidateSet, Judgment, Pair, Participant, Prompt, Study
from annotation.plain_sql import json_value, statements


def study_get(*, slug: str) -> Study:
    study = Study.objects.filter(slug=slug).first()
    if study is None:
        raise NotFound(f"no study with slug {slug!r}", code="unknown_study")
    return study


# What the annotation loop reads of a participant and its study; anything else loads on first use.
def _fields(model, wanted: set[str]) -> tuple[str, ...]:
    # In the model's own order: Model.from_db expects the values that way.
    return tuple(f.attname for f in model._meta.concrete_fields if f.attname in wanted)


_PARTICIPANT_FIELDS = _fields(
    Participant, {"id", "study_id", "user_id", "external_id", "group_key", "excluded_at", "screened_out_at"}
)
_STUDY_FIELDS = _fields(
    Study, {"id", "slug", "overlap", "quota", "group_attributes", "lease_minutes", "open_slots_after", "is_open",
            "gold_rate", "allocation", "k_max", "task"}
)
_PARTICIPANT_SQL = (
    "SELECT " + ", ".join([f"pa.{f}" for f in _PARTICIPANT_FIELDS] + [f"st.{f}" for f in _STUDY_FIELDS])
    + " FROM annotation_participant pa JOIN annotation_study st ON st.id = pa.study_id"
)


def _participant_from_row(row: tuple) -> Participant:
    # Plain SQL because every `next` and submit starts here; see annotation/plain_sql.py.
    participant = Participant.from_db("default", _PARTICIPANT_FIELDS, row[: len(_PARTICIPANT_FIELDS)])
    values = list(row[len(_PARTICIPANT_FIELDS):])
    values[_STUDY_FIELDS.index("group_attributes")] = json_value(values[_STUDY_FIELDS.index("group_attributes")])
    participant.study = Study.from_db("default", _STUDY_FIELDS, values)
    return participant


# (slug, user id) -> (expiry, participant). Every `next` starts with this lookup; what it returns never
# changes (the participant's id and group) or is read live by `next` itself (quota, lease, open or
# closed), except the overlap and groups that only tune the query. A removed participant's `next`
# finds nothing (204) until the entry expires; exclusion and screening clear this process's entry, other
# processes see them within the minute.
_PARTICIPANT_CACHE_SECONDS = 60
_participant_cache: dict[tuple[str, int], tuple[float, Participant]] = {}
_participant_cache_lock = threading.Lock()


def participant_cache_clear() -> None:
    with _participant_cache_lock:
        _participant_cache.clear()


def participant_cache_forget(participant_id: int) -> None:
    """Drop a participant whose exclusion or screening changed, so this process's `next` sees it at once."""
    with _participant_cache_lock:
        for key in [key for key, (_, p) in _participant_cache.items() if p.pk == participant_id]:
            del _participant_cache[key]


def participant_in_study(*, slug: str, user: AbstractBaseUser) -> Participant:
    """The user's profile in the study; the errors say which of the two is missing."""
    if user.is_authenticated:
        now = time.monotonic()
        hit = _participant_cache.get((slug, user.pk))
        if hit is not None and hit[0] > now:
            return hit[1]
        with statements() as sql:
            row = sql.one(_PARTICIPANT_SQL + " WHERE st.slug = %s AND pa.user_id = %s", [slug, user.pk])
        if row is not None:
            participant = _participant_from_row(row)
            with _participant_cache_lock:
                if len(_participant_cache) >= 10_000:
                    _participant_cache.clear()
                _participant_cache[(slug, user.pk)] = (now + _PARTICIPANT_CACHE_SECONDS, participant)
            return participant
    return participant_of(study=study_get(slug=slug), user=user)


def participant_of(*, study: Study, user: AbstractBaseUser) -> Participant:
    participant = None
    if user.is_authenticated:
        participant = Participant.objects.select_related("study").filter(study=study, user=user).first()
    if participant is None:
        raise Forbidden(f"you have not joined study {study.slug!r}", code="not_joined")
    return participant


def study_counts(*, study: Study) -> dict[str, int]:
    by_status = dict(
        Assignment.objects.filter(participant__study=study).values_list("status").annotate(n=Count("id"))
    )
    return {
        "prompts": Prompt.objects.filter(study=study).count(),
        "pairs": Pair.objects.filter(prompt__study=study).count(),
        **({"sets": CandidateSet.objects.filter(prompt__study=study).count()} if study.task == Study.Task.SET else {}),
        "participants": Participant.objects.filter(study=study).count(),
        "judgments": Judgment.objects.filter(participant__study=study).count(),
        "leases_active": by_status.get(Assignment.Status.ACTIVE, 0),
        "leases_expired": by_status.get(Assignment.Status.EXPIRED, 0),
    }
