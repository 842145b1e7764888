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
) -> Participant:
    """Register an annotator in a study; a user already in the study gets their existing profile."""
    if not study.is_open:
        raise Forbidden(f"study {study.slug!r} is closed to new annotators", code="study_closed")
    if consent is not True:
        raise InputError("consent must be given (true) to take part", field="consent")
    clean = validate_attributes(attributes, study.group_attributes)
    if user is not None and user.is_authenticated:
        existing = Participant.objects.filter(study=study, user=user).first()
        if existing is not None:
            return existing
    else:
        user = _new_annotator_account()
    external_id = clean_text((external_id or "").strip()[:128], "external_id") or crowd_external_id(crowd_params or {})
    if external_id and Participant.objects.filter(study=study, external_id=external_id).exists():
        raise Conflict(f"annotator id {external_id!r} has already joined this study", code="already_joined")
    try:
        with transaction.atomic():
            return Participant.objects.create(
                study=study,
                user=user,
                external_id=external_id or user.get_username(),
                attributes=clean,
                group_key=group_key(clean, study.group_attributes),
                crowd_params=crowd_params or {},
                consented_at=timezone.now(),
            )
    except IntegrityError:
        raise Conflict(f"annotator id {external_id!r} has already joined this study", code="already_joined") from None


def participant_returning(*, study: Study, crowd_params: dict[str, str]) -> Participant | None:
    """The participant who joined this study through a crowd link carrying the same crowd id, so that the
    same person on another device continues instead of being refused (docs/formats.md, returning participants).

    Whoever holds the link can continue as that participant; the crowd platform is what keeps the id to
    its owner. So only a crowd id recorded from a join link counts (never a username or an imported id),
    and only an annotator's own sign-in-less account is handed over, never a staff or researcher account.
    """
    for name in CROWD_ID_PARAMS:
        value = crowd_params.get(name)
        if not value:
            continue
        participant = (
            Participant.objects.select_related("user", "study")
            .filter(study=study, external_id=value, **{f"crowd_params__{name}": value}, user__isnull=False)
            .first()
        )
        if participant is None or not is_crowd_account(participant.user):
            return None
        return participant
    return None


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
