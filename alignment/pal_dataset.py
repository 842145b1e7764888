"""A study's judgments as PAL's index arrays over prompt and candidate embedding matrices."""

from dataclasses import dataclass

import numpy as np

from alignment.dashboards.selectors import group_label
from alignment.embedding_store import candidate_embeddings, prompt_embeddings
from alignment.pal.data import Judgments, PalData
from alignment.training_set import LABELS, training_judgments
from annotation.models import Judgment, Participant, Study

DERIVED_ORIGINS = (Judgment.Origin.RATINGS, Judgment.Origin.SET)


@dataclass(frozen=True)
class StudyPalData:
    data: PalData
    participant_ids: np.ndarray  # database id of each user row
    prompt_ids: np.ndarray  # database id of each prompt row
    candidate_ids: np.ndarray  # database id of each candidate row


def _column(rows: list[tuple], i: int) -> np.ndarray:
    return np.fromiter((row[i] for row in rows), dtype=np.int64, count=len(rows))


def pal_data_for_study(*, study: Study, last_judgment_id: int | None = None,
                       attribute: str | None = None, prompts: str = "all") -> StudyPalData:
    """The study's A / B / tie judgments that count, up to `last_judgment_id` (the run's snapshot; None: all now).
    Groups are full group keys, or one attribute's values ("party=D") when `attribute` is given."""
    rows = list(
        training_judgments(study=study, last_judgment_id=last_judgment_id, prompts=prompts)
        .order_by("id")
        .values_list("participant_id", "pair__prompt_id", "candidate_a_id", "candidate_b_id", "choice", "origin")
    )
    if not rows:
        raise ValueError(f"study {study.slug!r} has no A/B/tie judgments to fit")
    participant_ids, user = np.unique(_column(rows, 0), return_inverse=True)
    prompt_ids, prompt = np.unique(_column(rows, 1), return_inverse=True)
    candidate_ids, ab = np.unique(np.concatenate([_column(rows, 2), _column(rows, 3)]), return_inverse=True)
    label = np.array([LABELS[row[4]] for row in rows], dtype=np.float32)
    keys = Participant.objects.filter(pk__in=participant_ids.tolist()).values_list("pk", "group_key")
    groups = {pk: group_label(key, attribute) for pk, key in keys}
    group_names = tuple(sorted(set(groups.values())))
    code = {name: i for i, name in enumerate(group_names)}
    data = PalData(
        prompt_embeddings=prompt_embeddings(prompt_ids),
        candidate_embeddings=candidate_embeddings(candidate_ids),
        judgments=Judgments.from_arrays(user, prompt, ab[: len(rows)], ab[len(rows) :], label),
        user_ids=tuple(int(pk) for pk in participant_ids),
        user_group=np.array([code[groups[int(pk)]] for pk in participant_ids], dtype=np.int64),
        group_names=group_names,
        # Comparisons expanded from one set judgment imply one another as ratings' do (best > b and best > c
        # come from one pick): both are split by (annotator, item), never at random.
        derived=np.array([row[5] in DERIVED_ORIGINS for row in rows], dtype=bool),
    )
    return StudyPalData(data, participant_ids, prompt_ids, candidate_ids)

