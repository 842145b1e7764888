"""The SPICA dashboard's numbers: from the current SPICA refit's evaluation and retrieval bank."""

import numpy as np

from alignment.dashboards.reports import Report, num
from alignment.examples import spica_bank
from alignment.models import FitRun
from alignment.spica import METRICS
from annotation.models import Candidate, Prompt, Study

TOP = 5
QUANTILES = (5, 25, 50, 75, 95)


def spica_report(*, study: Study) -> Report:
    run = FitRun.objects.filter(study=study, kind=FitRun.Kind.SPICA, is_current=True).first()
    if run is None:
        return Report(tables={"evaluation": [], "norms": [], "distributions": []}, groups=[], summary={"run": None})
    bank = spica_bank(run.artifact_path)
    groups = bank["group_names"]
    metrics = run.metrics
    # Rating RMSE: None where the group had no rated test scenarios, or the refit predates it.
    rmse = {key: metrics.get(key) or {} for key in ("rmse", "rmse_similarity", "rmse_gain")}
    evaluation = [{"group": g, "spica": num(metrics["accuracy"].get(g)),
                   "similarity_only": num(metrics["accuracy_similarity"].get(g)), "gain": num(metrics["gain"].get(g)),
                   "rmse_spica": num(rmse["rmse"].get(g)), "rmse_similarity_only": num(rmse["rmse_similarity"].get(g)),
                   "rmse_gain": num(rmse["rmse_gain"].get(g))}
                  for g in groups]
    values = bank["metrics"]  # (n_b, G, M); support is log1p(members who judged or rated)
    distributions = [
        {"group": g, "metric": name, **{f"p{q}": num(v) for q, v in zip(QUANTILES, np.percentile(
            values[:, gi, mi], QUANTILES), strict=True)}}
        for gi, g in enumerate(groups) for mi, name in enumerate(METRICS)
    ]
    summary = {"run": run.pk, "scenarios": metrics.get("scenarios"), "bank": metrics.get("bank"), "m": metrics.get("m"),
               "rating_scale": metrics.get("rating_scale")}
    return Report(tables={"evaluation": evaluation, "norms": _norm_examples(bank, groups),
                          "distributions": distributions}, groups=groups, summary=summary)


def _norm_examples(bank: dict, groups: list[str]) -> list[dict]:
    """Per group, the scenarios that best illustrate its norms: highest intensity x distinctiveness."""
    intensity = bank["metrics"][:, :, METRICS.index("intensity")]
    distinct = bank["metrics"][:, :, METRICS.index("distinctiveness")]
    picks = [(gi, int(r)) for gi in range(len(groups))
             for r in np.argsort(-(intensity[:, gi] * distinct[:, gi]), kind="stable")[:TOP]]
    prompt_ids = {int(bank["prompt_ids"][r]) for _, r in picks}
    prompts = dict(Prompt.objects.filter(pk__in=prompt_ids).values_list("pk", "external_id"))
    cand = {(gi, r): (int(bank["candidate_ids"][r, bank["preferred"][r, gi]]),
                      int(bank["candidate_ids"][r, bank["dispreferred"][r, gi]])) for gi, r in picks}
    wanted = [pk for pair in cand.values() for pk in pair]
    texts = dict(Candidate.objects.filter(pk__in=wanted).values_list("pk", "text"))
    return [{"group": groups[gi], "prompt_id": prompts[int(bank["prompt_ids"][r])],
             "preferred": texts[cand[(gi, r)][0]], "dispreferred": texts[cand[(gi, r)][1]],
             "intensity": num(intensity[r, gi]), "distinctiveness": num(distinct[r, gi])} for gi, r in picks]
