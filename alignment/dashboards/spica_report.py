"""The SPICA dashboard's numbers: from a SPICA refit's evaluation and retrieval bank.

Without an attribute: the current refit, whatever its groups. With `attribute`: the latest succeeded refit
fitted on that attribute's groups (a refit with params.attribute), so each slicing shows its own model."""

import numpy as np

from alignment.dashboards.reports import Report, num
from alignment.examples import spica_bank
from alignment.models import FitRun
from alignment.spica import METRICS
from alignment.spica_verdicts import verdict_text
from annotation.models import Candidate, Prompt, Study

TOP = 5
QUANTILES = (5, 25, 50, 75, 95)


EVALUATION = {  # evaluation column -> refit metric (per group); None where a refit predates the metric
    "spica": "accuracy", "similarity_only": "accuracy_similarity", "constant": "accuracy_constant", "gain": "gain",
    "n_judgments": "n_judgments", "rmse_spica": "rmse", "rmse_similarity_only": "rmse_similarity",
    "rmse_constant": "rmse_constant", "rmse_gain": "rmse_gain", "n_ratings": "n_ratings",
    "retrieved_similarity": "retrieved_similarity", "retrieved_similarity_only": "retrieved_similarity_baseline",
    "verdict": "verdict", "verdict_on": "verdict_on",
}


def spica_run_for(*, study: Study, attribute: str | None) -> FitRun | None:
    runs = FitRun.objects.filter(study=study, kind=FitRun.Kind.SPICA)
    if attribute is None:
        return runs.filter(is_current=True).first()
    return (runs.filter(status=FitRun.Status.SUCCEEDED, params__attribute=attribute)
            .order_by("-finished_at", "-pk").first())


def spica_report(*, study: Study, attribute: str | None = None) -> Report:
    run = spica_run_for(study=study, attribute=attribute)
    if run is None:
        return Report(tables={"evaluation": [], "evidence": [], "norms": [], "distributions": []}, groups=[],
                      summary={"run": None, "attribute": attribute})
    bank = spica_bank(run.artifact_path)
    groups = bank["group_names"]
    metrics = run.metrics
    evaluation = []
    for g in groups:
        row = {"group": g} | {column: _value((metrics.get(key) or {}).get(g)) for column, key in EVALUATION.items()}
        evaluation.append(row | {"verdict_text": verdict_text(row["verdict"])})
    evidence = [{"group": g, "cells": int(len(bank["evidence"])), "with_evidence": int(bank["evidence"][:, gi].sum()),
                 "share": num(bank["evidence"][:, gi].mean()),
                 "median_support": num(float(np.median(bank["support"][:, gi])))} for gi, g in enumerate(groups)]
    values = bank["metrics"]  # (n_b, G, M); support is log1p(members who judged or rated)
    distributions = [
        {"group": g, "metric": name, **{f"p{q}": num(v) for q, v in zip(QUANTILES, np.percentile(
            values[:, gi, mi], QUANTILES), strict=True)}}
        for gi, g in enumerate(groups) for mi, name in enumerate(METRICS)
    ]
    summary = {"run": run.pk, "scenarios": metrics.get("scenarios"), "bank": metrics.get("bank"), "m": metrics.get("m"),
               "pool": metrics.get("pool"), "rating_scale": metrics.get("rating_scale"),
               "attribute": metrics.get("attribute"), "is_current": run.is_current}
    return Report(tables={"evaluation": evaluation, "evidence": evidence, "norms": _norm_examples(bank, groups),
                          "distributions": distributions}, groups=groups, summary=summary)


def _value(value):
    return num(value) if isinstance(value, float) else value


def _norm_examples(bank: dict, groups: list[str]) -> list[dict]:
    """Per group, the scenarios that best illustrate its norms: highest intensity x distinctiveness among
    those where the group's own judgments give a preferred and a dispreferred answer."""
    intensity = bank["metrics"][:, :, METRICS.index("intensity")]
    distinct = bank["metrics"][:, :, METRICS.index("distinctiveness")]
    picks = []
    for gi in range(len(groups)):
        ranked = np.argsort(-(intensity[:, gi] * distinct[:, gi]), kind="stable")
        picks += [(gi, int(r)) for r in ranked[bank["evidence"][ranked, gi]][:TOP]]
    prompt_ids = {int(bank["prompt_ids"][r]) for _, r in picks}
    prompts = dict(Prompt.objects.filter(pk__in=prompt_ids).values_list("pk", "external_id"))
    cand = {(gi, r): (int(bank["candidate_ids"][r, bank["preferred"][r, gi]]),
                      int(bank["candidate_ids"][r, bank["dispreferred"][r, gi]])) for gi, r in picks}
    wanted = [pk for pair in cand.values() for pk in pair]
    texts = dict(Candidate.objects.filter(pk__in=wanted).values_list("pk", "text"))
    return [{"group": groups[gi], "prompt_id": prompts[int(bank["prompt_ids"][r])],
             "preferred": texts[cand[(gi, r)][0]], "dispreferred": texts[cand[(gi, r)][1]],
             "intensity": num(intensity[r, gi]), "distinctiveness": num(distinct[r, gi]),
             "support": int(bank["support"][r, gi])} for gi, r in picks]
