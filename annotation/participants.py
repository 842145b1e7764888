"""Joining a study: consent, group profile, an account for the annotator."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils import timezone

from annotation.errors import Conflict, Forbidden, InputError
from annotation.groups import group_key, validate_attributes
from annotation.input_rules import clean_text
from annotation.models import Participant, Study

# Query parameters that crowd platforms append to a study link (Prolific, MTurk, CloudResearch).
CROWD_PARAMS = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID", "workerId", "assignmentId", "hitId", "participantId")
CROWD_ID_PARAMS = ("PROLIFIC_PID", "workerId", "participantId")
# Where an API join's `external_id` is recorded among the crowd parameters: a join link never sets it.
API_CROWD_ID = "external_id"


def crowd_params_from(query: dict) -> dict[str, str]:
    """The crowd platform's parameters of a study link; a NUL in one is refused before it reaches the session."""
    return {name: clean_text(str(query[name]), name)[:128] for name in CROWD_PARAMS if query.get(name)}


def crowd_external_id(crowd_params: dict[str, str]) -> str:
    return next((crowd_params[name] for name in CROWD_ID_PARAMS if crowd_params.get(name)), "")


def _new_annotator_account() -> AbstractBaseUser:
    user_model = get_user_model()
    user = user_model(username=f"annotator-{secrets.token_hex(6)}")
    user.set_unusable_password()  # participants sign in by session or token, never by password
    user.save()
    return user


@transaction.atomic
def participant_join(
    *,
    study: Study,
    consent: bool,
    attributes: object,
    external_id: str = "",
    crowd_params: dict[str, str] | None = None,
    user: AbstractBaseUser | None = None,
    resume: bool = False,
) -> Participant:
    """Register an annotator in a study; a user already in the study gets their existing profile.

    With `resume`, an `external_id` that already joined as a crowd id gives back that participant (to an
    anonymous caller or another crowd account), as a returning link does on the pages: so the answer to a
    taken crowd id is the answer to a new one, and nobody can probe which ids have joined.
    """
    if not study.is_open:
        raise Forbidden(f"study {study.slug!r} is closed to new annotators", code="study_closed")
    if consent is not True:
        raise InputError("consent must be given (true) to take part", field="consent")
    clean = validate_attributes(attributes, study.group_attributes)
    caller = user if user is not None and user.is_authenticated else None
    if caller is not None:
        existing = Participant.objects.filter(study=study, user=caller).first()
        if existing is not None:
            return existing
    given_id = clean_text((external_id or "").strip()[:128], "external_id")
    if given_id and not crowd_params:
        crowd_params = {API_CROWD_ID: given_id}
    external_id = given_id or crowd_external_id(crowd_params or {})
    if external_id and Participant.objects.filter(study=study, external_id=external_id).exists():
        return _returning_or_conflict(study, external_id, caller, resume=resume)
    account = caller or _new_annotator_account()
    try:
        with transaction.atomic():
            return Participant.objects.create(
                study=study,
                user=account,
                external_id=external_id or account.get_username(),
                attributes=clean,
                group_key=group_key(clean, study.group_attributes),
                crowd_params=crowd_params or {},
                consented_at=timezone.now(),
            )
    except IntegrityError:
        # The same id joined meanwhile (another device, a double submit): as if it had been there first.
        if caller is None:
            account.delete()
        return _returning_or_conflict(study, external_id, caller, resume=resume)


def _returning_or_conflict(study: Study, external_id: str, caller: AbstractBaseUser | None, *,
                           resume: bool) -> Participant:
    returning = participant_by_crowd_id(study=study, crowd_id=external_id) if resume else None
    if returning is not None and (caller is None or is_crowd_account(caller)):
        return returning
    raise Conflict(f"annotator id {external_id!r} has already joined this study", code="already_joined")


def participant_returning(*, study: Study, crowd_params: dict[str, str]) -> Participant | None:
    """The participant who joined this study with the crowd id these link parameters carry, so that the same
    person on another device continues instead of being refused (README, returning participants)."""
    crowd_id = crowd_external_id(crowd_params)
    return participant_by_crowd_id(study=study, crowd_id=crowd_id) if crowd_id else None


def participant_by_crowd_id(*, study: Study, crowd_id: str) -> Participant | None:
    """The participant who joined this study with `crowd_id` as their crowd id: from a join link's crowd
    parameters or as the API join's `external_id`.

    Whoever holds the id can continue as that participant; the crowd platform is what keeps the id to its
    owner. So only an id recorded as a crowd id at the join counts (never a username, nor an id from a
    judgment import), and only an annotator's own sign-in-less account is handed over, never a staff or
    researcher account.
    """
    participant = (
        Participant.objects.select_related("user", "study")
        .filter(study=study, external_id=crowd_id, user__isnull=False)
        .first()
    )
    if participant is None or crowd_id not in _recorded_crowd_ids(participant):
        return None
    return participant if is_crowd_account(participant.user) else None


def _recorded_crowd_ids(participant: Participant) -> set[str]:
    recorded = participant.crowd_params or {}
    return {recorded[name] for name in (*CROWD_ID_PARAMS, API_CROWD_ID) if recorded.get(name)}


def is_crowd_account(user: AbstractBaseUser) -> bool:
    """An account made by a join link: no password, no staff rights, no role."""
    return (
        user.is_authenticated and not user.has_usable_password() and not user.is_staff and not user.is_superuser
        and not user.groups.exists()
    )


def participant_for_user(*, study: Study, user: AbstractBaseUser) -> Participant | None:
    if not user.is_authenticated:
        return None
    return Participant.objects.select_related("study").filter(study=study, user=user).first()
