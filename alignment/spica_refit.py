"""The SPICA refit: a study's judgments and ratings -> group norm metrics, tuned alphas and a retrieval
bank saved as an artifact (alignment/spica holds the numeric core and its formulas)."""

import os
from dataclasses import asdict
from itertools import groupby
from pathlib import Path

import numpy as np

from alignment.embedding_store import candidate_embeddings, prompt_embeddings
from alignment.fit_runner import FitOutcome, FitProgress, artifact_dir
from alignment.models import FitRun
from alignment.spica import GroupJudgments, GroupRatings, SpicaData, run_spica, split_scenarios
from alignment.training_set import LABELS, training_judgments, training_ratings
from annotation.models import Candidate, Study

MIN_SCENARIOS = 10


def spica_data_for_study(*, study: Study, last_judgment_id: int | None,
                         last_rating_id: int | None) -> tuple[SpicaData, np.ndarray, np.ndarray]:
    """(data, prompt id of each scenario row, (n_s, C) candidate ids with -1 padding), from the judgments
    and ratings up to the run's snapshot. Judgments and ratings carry their Participant's pk as the
    annotator, so support counts members."""
    judged = list(
        training_judgments(study=study, last_judgment_id=last_judgment_id)
        .values_list("pair__prompt_id", "group_key", "candidate_a_id", "candidate_b_id", "choice", "participant_id")
    )
    ratings = list(training_ratings(study=study, last_rating_id=last_rating_id)
                   .values_list("candidate__prompt_id", "participant__group_key", "candidate_id", "rating",
                                "participant_id"))
    prompt_ids = np.array(sorted({row[0] for row in judged} | {row[0] for row in ratings}), dtype=np.int64)
    by_prompt = {pid: [pk for _, pk in rows] for pid, rows in groupby(
        Candidate.objects.filter(prompt_id__in=prompt_ids.tolist()).order_by("prompt_id", "id")
        .values_list("prompt_id", "id"), key=lambda row: row[0])}
    width = max((len(c) for c in by_prompt.values()), default=2)
    candidate_ids = np.full((len(prompt_ids), width), -1, dtype=np.int64)
    local: dict[int, int] = {}
    for row, pid in enumerate(prompt_ids.tolist()):
        candidate_ids[row, : len(by_prompt[pid])] = by_prompt[pid]
        local.update({pk: i for i, pk in enumerate(by_prompt[pid])})
    scenario_of = {pid: row for row, pid in enumerate(prompt_ids.tolist())}
    groups = tuple(sorted({row[1] for row in judged} | {row[1] for row in ratings}))
    group_of = {name: i for i, name in enumerate(groups)}
    data = SpicaData(
        embeddings=prompt_embeddings(prompt_ids),
        candidate_features=_candidate_features(candidate_ids),
        n_candidates=(candidate_ids >= 0).sum(axis=1),
        judgments=GroupJudgments.from_arrays(
            [scenario_of[r[0]] for r in judged], [group_of[r[1]] for r in judged], [local[r[2]] for r in judged],
            [local[r[3]] for r in judged], [LABELS[r[4]] for r in judged], annotator=[r[5] for r in judged]),
        group_names=groups,
        ratings=_ratings(ratings, scenario_of, group_of, local),
    )
    return data, prompt_ids, candidate_ids


def _ratings(rows: list[tuple], scenario_of: dict, group_of: dict, local: dict) -> GroupRatings | None:
    if not rows:
        return None
    values = [r[3] for r in rows]
    low, high = min(values), max(values)
    return GroupRatings.from_arrays([scenario_of[r[0]] for r in rows], [group_of[r[1]] for r in rows],
                                    [local[r[2]] for r in rows], values, annotator=[r[4] for r in rows],
                                    low=low, high=high if high > low else low + 1)


def _candidate_features(candidate_ids: np.ndarray) -> np.ndarray:
    present = candidate_ids[candidate_ids >= 0]
    vectors = candidate_embeddings(present)
    features = np.zeros((*candidate_ids.shape, vectors.shape[1]), dtype=np.float32)
    features[candidate_ids >= 0] = vectors
    return features


def run_spica_fit(run: FitRun, progress: FitProgress) -> FitOutcome:
    params = run.params
    data, prompt_ids, candidate_ids = spica_data_for_study(
        study=run.study, last_judgment_id=run.last_judgment_id, last_rating_id=run.last_rating_id)
    if data.n_scenarios < MIN_SCENARIOS or data.n_groups < 2:
        raise ValueError(f"a SPICA fit needs at least {MIN_SCENARIOS} judged scenarios and 2 groups; the study has "
                         f"{data.n_scenarios} scenarios and {data.n_groups} groups")
    progress(epoch=1, total=2, loss=0.0, phase="data")
    result = run_spica(data, split_scenarios(data.n_scenarios, seed=params["seed"]), tau=params["tau"],
                       m=params["m"], seed=params["seed"])
    progress(epoch=2, total=2, loss=0.0, phase="tuned")
    path = _save(artifact_dir(run.study) / f"spica-run{run.pk}.npz", result, prompt_ids, candidate_ids, params)
    report = asdict(result.report)
    metrics = report | {
        "dev_accuracy": result.tuned.dev_accuracy.tolist(),
        "dev_accuracy_similarity": result.tuned.dev_accuracy_similarity.tolist(),
        "dev_rmse": result.tuned.dev_rmse.tolist(),
        "dev_rmse_similarity": result.tuned.dev_rmse_similarity.tolist(),
        "tuning_objective": list(result.tuned.objective),
        "scenarios": data.n_scenarios, "bank": len(result.index),
    }
    return FitOutcome(metrics=_plain(metrics), artifact_path=str(path), judgment_count=len(data.judgments))


def _save(path: Path, result, prompt_ids: np.ndarray, candidate_ids: np.ndarray, params: dict) -> Path:
    index, rows = result.index, result.index.rows
    tmp = path.with_name(path.name + ".part.npz")
    np.savez_compressed(
        tmp, prompt_ids=prompt_ids[rows], candidate_ids=candidate_ids[rows], embeddings=index.embeddings,
        z=index.z, contrast=index.contrast, preferred=index.preferred, dispreferred=index.dispreferred,
        metrics=result.metrics.table()[rows], alphas=result.tuned.alphas,
        group_names=np.array(result.report.group_names), m=np.array(params["m"]),
    )
    os.replace(tmp, path)  # never a half-written artifact under the real name
    return path


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and value != value:
        return None  # NaN: JSON (and jsonb) cannot hold it
    return value.item() if hasattr(value, "item") else value
