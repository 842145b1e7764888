"""The SPICA refit: a study's judgments and ratings -> group norm metrics, tuned alphas and a retrieval
bank saved as an artifact (alignment/spica holds the numeric core and its formulas).

Groups are full group keys ("country=FR|party=D") by default; with the `attribute` parameter they are
one attribute's values ("party=D"), so a study with many small full groups can be fitted per attribute."""

import os
from dataclasses import asdict
from itertools import groupby
from pathlib import Path

import numpy as np

from alignment.embedding_store import candidate_embeddings, prompt_embeddings
from alignment.fit_params import attribute_check
from alignment.fit_requirements import SPICA_MIN_SCENARIOS
from alignment.fit_runner import FitOutcome, FitProgress, artifact_dir
from alignment.models import FitRun
from alignment.spica import GroupJudgments, GroupRatings, SpicaData, pool_size, run_spica, split_scenarios
from alignment.training_set import LABELS, training_judgments, training_ratings
from annotation.models import Candidate, Study

MIN_SCENARIOS = SPICA_MIN_SCENARIOS


def group_of_key(key: str, attribute: str | None) -> str:
    """The group a member belongs to: its full key, or only the part naming `attribute` ("party=D")."""
    if not attribute:
        return key
    return next((part for part in key.split("|") if part.partition("=")[0] == attribute), "")


def spica_data_for_study(*, study: Study, last_judgment_id: int | None = None, last_rating_id: int | None = None,
                         attribute: str | None = None, prompts: str = "all"
                         ) -> tuple[SpicaData, np.ndarray, np.ndarray]:
    """(data, prompt id of each scenario row, (n_s, C) candidate ids with -1 padding), from the judgments
    and ratings that count up to the run's snapshot. Judgments and ratings carry their Participant's pk
    as the annotator, so support counts members. With `attribute`, groups are that attribute's values;
    members without a value for it are left out."""
    judged = [(r[0], group_of_key(r[1], attribute), *r[2:]) for r in
              training_judgments(study=study, last_judgment_id=last_judgment_id, prompts=prompts)
              .values_list("pair__prompt_id", "group_key", "candidate_a_id", "candidate_b_id", "choice",
                           "participant_id")]
    ratings = [(r[0], group_of_key(r[1], attribute), *r[2:]) for r in
               training_ratings(study=study, last_rating_id=last_rating_id)
               .values_list("candidate__prompt_id", "participant__group_key", "candidate_id", "rating",
                            "participant_id")]
    judged, ratings = [r for r in judged if r[1]], [r for r in ratings if r[1]]
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
    attribute = params.get("attribute") or None
    attribute_check(run.study, attribute)  # InputError is a ValueError: the run fails with the reason
    data, prompt_ids, candidate_ids = spica_data_for_study(
        study=run.study, last_judgment_id=run.last_judgment_id or 0, last_rating_id=run.last_rating_id or 0,
        attribute=attribute, prompts=params.get("prompts") or "all")
    if data.n_scenarios < MIN_SCENARIOS or data.n_groups < 2:
        raise ValueError(f"a SPICA fit needs at least {MIN_SCENARIOS} judged scenarios and 2 groups; the study has "
                         f"{data.n_scenarios} scenarios and {data.n_groups} groups")
    progress(epoch=1, total=2, loss=0.0, phase="data")
    result = run_spica(data, split_scenarios(data.n_scenarios, seed=params["seed"]), tau=params["tau"],
                       m=params["m"], seed=params["seed"])
    progress(epoch=2, total=2, loss=0.0, phase="tuned")
    path = _save(artifact_dir(run.study) / f"spica-run{run.pk}.npz", result, prompt_ids, candidate_ids, params)
    report = asdict(result.report)
    evidence = result.index.evidence
    metrics = report | {
        "attribute": attribute,
        "prompts": params.get("prompts") or "all",
        "pool": pool_size(params["m"], len(result.index)),
        # Bank cells (scenario, group) where the group's own judgments give a preferred and a dispreferred answer.
        "evidence": {g: {"cells": int(len(evidence)), "with_evidence": int(evidence[:, i].sum())}
                     for i, g in enumerate(data.group_names)},
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
        metrics=result.metrics.table()[rows], alphas=result.tuned.alphas, evidence=index.evidence,
        support=result.metrics.support[rows], group_names=np.array(result.report.group_names),
        m=np.array(params["m"]), attribute=np.array(params.get("attribute") or ""),
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


def spica_headline(metrics: dict) -> list[str]:
    """SPICA's own figures per group, one line each, for the command line: the headline figure (rating
    RMSE where the group rated test scenarios, else pair accuracy) beside both baselines, with its n, the
    mean similarity of retrieved scenarios to the query (SPICA / similarity-only), and the verdict."""
    from alignment.spica_verdicts import verdict_text

    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:.3f}"

    groups = metrics.get("group_names") or sorted(metrics.get("accuracy", {}))
    scale = metrics.get("rating_scale")
    lines = [f"SPICA by {'attribute ' + metrics['attribute'] if metrics.get('attribute') else 'full group'}: "
             f"{len(groups)} groups, bank {metrics.get('bank')} scenarios, top {metrics.get('m')} of the "
             f"{metrics.get('pool')} nearest" + (f"; RMSE on {scale[0]:g}-{scale[1]:g}" if scale else "")]
    for g in groups:
        get = {key: (metrics.get(key) or {}).get(g) for key in (
            "accuracy", "accuracy_similarity", "accuracy_constant", "rmse", "rmse_similarity", "rmse_constant",
            "retrieved_similarity", "retrieved_similarity_baseline", "n_judgments", "n_ratings", "verdict")}
        rmse = (f" | RMSE {fmt(get['rmse'])} (similarity-only {fmt(get['rmse_similarity'])}, constant "
                f"{fmt(get['rmse_constant'])}, n={get['n_ratings'] or 0})" if get["rmse"] is not None else "")
        lines.append(
            f"  {g}: accuracy {fmt(get['accuracy'])} (similarity-only {fmt(get['accuracy_similarity'])}, constant "
            f"{fmt(get['accuracy_constant'])}, n={get['n_judgments'] or 0}){rmse} | retrieved similarity "
            f"{fmt(get['retrieved_similarity'])} (similarity-only {fmt(get['retrieved_similarity_baseline'])}) | "
            f"{verdict_text(get['verdict']) or 'no verdict'}")
    return lines
