"""Serving the current PAL model: personalised rewards, and few-shot mixtures for new annotators."""

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from django.conf import settings

from alignment.embedding_store import embeddings_for_texts
from alignment.embeddings import conversation_text
from alignment.models import FitRun
from alignment.pal import Judgments, PalData, PalRewardModel, fit_new_users, load_pal
from alignment.training_set import LABELS
from annotation.counted_judgments import participant_judgments_that_count
from annotation.errors import InputError, NotFound
from annotation.groups import group_key_of
from annotation.input_rules import long_text
from annotation.models import Participant, Study

MAX_ITEMS = 256
MAX_RESPONSES = 64


@lru_cache(maxsize=8)
def _load(path: str) -> PalRewardModel:
    # Keyed by path: a new current run has a new artifact, so a stale model is never served.
    return load_pal(path)


def current_pal(*, study: Study) -> tuple[FitRun, PalRewardModel]:
    run = FitRun.objects.filter(study=study, kind=FitRun.Kind.PAL, is_current=True).first()
    if run is None:
        raise NotFound(f"study {study.slug!r} has no fitted PAL model yet; launch a refit", code="no_model")
    return run, _load(run.artifact_path)


@dataclass(frozen=True)
class Mixture:
    weights: np.ndarray
    source: str  # "fitted" (learned in training), "few-shot", "group" or "given"
    detail: dict


def annotator_mixture(*, study: Study, annotator_id: str, shots: int | None = None) -> Mixture:
    """The annotator's weights: from the model if it was fitted on them, else few-shot from their judgments."""
    _, model = current_pal(study=study)
    participant = Participant.objects.filter(study=study, external_id=annotator_id).first()
    if participant is None:
        raise NotFound(f"no annotator {annotator_id!r} in study {study.slug!r}", code="unknown_annotator")
    status = model.status_of(participant.pk) if participant.pk in model.user_ids else "new"
    if status == "fitted" and shots is None:
        return Mixture(model.weights_for(participant.pk), "fitted", {"annotator_id": annotator_id, "status": status})
    # held_out and unseen annotators are rows of the model whose weights training never moved:
    # they are fitted few-shot from their own judgments, like a new annotator, and say so.
    return _few_shot(model, participant, shots, status)


def _few_shot(model: PalRewardModel, participant: Participant, shots: int | None, status: str) -> Mixture:
    rows = list(participant_judgments_that_count(participant=participant).filter(choice__in=list(LABELS))
                .order_by("id")
                .values_list("pair__prompt__turns", "candidate_a__text", "candidate_b__text", "choice"))
    rows = rows[:shots] if shots is not None else rows
    prior = model.group_weights.get(participant.group_key)
    detail = {"annotator_id": participant.external_id, "judgments_used": len(rows), "group": participant.group_key,
              "status": status}
    if not rows:
        weights = prior if prior is not None else model.user_weights().mean(0)
        return Mixture(np.asarray(weights, dtype=np.float32), "group", detail)
    n = len(rows)
    prompts = embeddings_for_texts([conversation_text(turns) for turns, *_ in rows])
    candidates = embeddings_for_texts([text for _, a, b, _ in rows for text in (a, b)])
    data = PalData(prompts, candidates, Judgments.from_arrays(
        np.zeros(n), np.arange(n), np.arange(0, 2 * n, 2), np.arange(1, 2 * n, 2),
        [LABELS[choice] for *_, choice in rows]), user_ids=(participant.pk,))
    fitted = fit_new_users(model.model, data, data.judgments, n, prior=prior)
    return Mixture(fitted.weights[0], "few-shot", detail)


def mixture_for(*, study: Study, model: PalRewardModel, annotator_id: str | None, group: object,
                weights: list | None) -> Mixture:
    given = [name for name, value in (("annotator_id", annotator_id), ("group", group), ("weights", weights))
             if value not in (None, "", [], {})]
    if len(given) != 1:
        raise InputError("give exactly one of annotator_id, group or weights", field="annotator_id")
    if annotator_id:
        return annotator_mixture(study=study, annotator_id=annotator_id)
    if weights:
        try:
            return Mixture(model.weights_for(list(weights)), "given", {})
        except ValueError as exc:
            raise InputError(str(exc), field="weights") from None
    key = group_key_of(group, study.group_attributes)
    if key not in model.group_weights:
        raise InputError(f"the model has no group {key!r} (groups: {', '.join(sorted(model.group_weights))})",
                         field="group")
    return Mixture(model.group_weights[key], "group", {"group": key})


def rewards_for(*, study: Study, items: list[dict], annotator_id: str | None = None, group: object = None,
                weights: list | None = None) -> dict:
    """Rewards of each item's responses for its conversation, under one mixture; texts embed through the cache."""
    if not items or len(items) > MAX_ITEMS:
        raise InputError(f"give between 1 and {MAX_ITEMS} items", field="items")
    conversations = [_conversation(item, i) for i, item in enumerate(items)]
    texts = [text for item in items for text in item["responses"]]
    if len(texts) > settings.PLURALWEB_MAX_REWARD_TEXTS:
        raise InputError(f"at most {settings.PLURALWEB_MAX_REWARD_TEXTS} responses in all per call, got {len(texts)}",
                         field="items")
    run, model = current_pal(study=study)
    mixture = mixture_for(study=study, model=model, annotator_id=annotator_id, group=group, weights=weights)
    # Callers' texts are embedded for this answer only: the cache holds the study's own texts.
    prompts = embeddings_for_texts(conversations, store_new=False)
    responses = embeddings_for_texts(texts, store_new=False)
    rewards, start = [], 0
    for i, item in enumerate(items):
        end = start + len(item["responses"])
        rewards.append([float(r) for r in model.reward(mixture.weights, prompts[i], responses[start:end])])
        start = end
    return {"run": run.pk, "k": model.k, "weights": [float(w) for w in mixture.weights],
            "mixture_source": mixture.source, **mixture.detail, "rewards": rewards}


def _conversation(item: object, i: int) -> str:
    if not isinstance(item, dict):
        raise InputError("must be an object with turns and responses", field=f"items[{i}]")
    responses = item.get("responses")
    if not isinstance(responses, list) or not 1 <= len(responses) <= MAX_RESPONSES or not all(
            isinstance(r, str) and r.strip() for r in responses):
        raise InputError(f"must be a list of 1 to {MAX_RESPONSES} non-empty texts", field=f"items[{i}].responses")
    for j, response in enumerate(responses):
        long_text(response, f"items[{i}].responses[{j}]")
    turns = item.get("turns")
    try:
        if not isinstance(turns, list) or not turns:
            raise ValueError("needs at least one turn")
        return long_text(conversation_text(turns), f"items[{i}].turns")
    except (ValueError, TypeError) as exc:
        raise InputError(f"must be a list of {{role, content}} turns ({exc})", field=f"items[{i}].turns") from None
