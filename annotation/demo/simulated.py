"""Simulated judgments for the demo study, so that a first run shows real content everywhere.

Each candidate has a leaning on one axis (-1 speaks to party D, +1 to party R, 0 to neither). A simulated
annotator of party D prefers answers leaning D, one of party R the opposite, each with their own strength
and noise, so the groups really differ and PAL and SPICA have something to learn. The judgments go
through the ordinary judgment import (one atomic import, origin "import"), like any dataset would.
"""

import io
import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np

from annotation.judgment_files import JudgmentImportSummary, judgments_import
from annotation.models import Pair, Study

# (candidate a, b, c, d) leanings per prompt of demo_study.jsonl, written by reading the answers.
LEANING = {
    "p01": (-0.8, 0.2, 0.0, 0.9), "p02": (0.5, -0.9, 0.0, 1.0), "p03": (-0.9, 0.7, 0.0, 0.6),
    "p04": (-0.2, 0.3, 0.0, 0.7), "p05": (-0.9, 0.8, 0.0, 0.6), "p06": (-0.7, 0.7, 0.0, 0.1),
    "p07": (-0.8, 0.8, 0.0, 0.5), "p08": (-0.8, 0.0, 0.9, 0.1), "p09": (0.9, -0.9, 0.0, 0.8),
    "p10": (0.2, -0.5, 0.0, 0.7), "p11": (-0.2, -0.8, 0.0, 0.9), "p12": (-0.5, 0.9, -0.1, -0.2),
}
SIDE = {"D": -1.0, "R": 1.0}
ANNOTATORS_PER_GROUP = 8
SEED = 2026


def _utility(leaning: float, side: float, strength: float) -> float:
    # Balanced answers get a small bonus from everyone: the groups disagree on stances, not on manners.
    return 2.5 * strength * side * leaning + 0.4 * (1 - abs(leaning))


def _choice(rng: np.random.Generator, u_a: float, u_b: float) -> str:
    gap = u_a - u_b
    if abs(gap) < 0.3 and rng.random() < 0.25:
        return "tie"
    if rng.random() < 0.02:
        return "both_bad"
    return "A" if rng.random() < 1 / (1 + math.exp(-gap)) else "B"


def simulated_judgment_lines(study: Study, *, now: datetime, seed: int = SEED) -> list[dict]:
    """One judgment-file line per simulated annotator and pair of the study, spread over three days."""
    rng = np.random.default_rng(seed)
    pairs = list(
        Pair.objects.filter(prompt__study=study).order_by("id")
        .values_list("prompt__external_id", "candidate_a__external_id", "candidate_b__external_id")
    )
    start = now - timedelta(days=3)
    lines = []
    for party, side in SIDE.items():
        for n in range(1, ANNOTATORS_PER_GROUP + 1):
            strength = rng.uniform(0.5, 1.5)
            for prompt_id, a, b in pairs:
                u_a = _utility(LEANING[prompt_id][ord(a[-1]) - ord("a")], side, strength)
                u_b = _utility(LEANING[prompt_id][ord(b[-1]) - ord("a")], side, strength)
                shown_a, shown_b = (a, b) if rng.random() < 0.5 else (b, a)
                choice = _choice(rng, u_a, u_b) if shown_a == a else _choice(rng, u_b, u_a)
                when = start + timedelta(seconds=float(rng.uniform(0, 3 * 24 * 3600)))
                lines.append({
                    "annotator_id": f"sim-{party.lower()}{n:02d}", "attributes": {"party": party},
                    "prompt_id": prompt_id, "a": shown_a, "b": shown_b, "choice": choice,
                    "created_at": when.astimezone(UTC).isoformat(),
                })
    return lines


def simulated_judgments_import(study: Study, *, now: datetime) -> JudgmentImportSummary:
    lines = simulated_judgment_lines(study, now=now)
    stream = io.BytesIO("".join(json.dumps(line) + "\n" for line in lines).encode())
    return judgments_import(study=study, stream=stream, source="demo-simulated.jsonl")
