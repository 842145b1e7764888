"""After a bulk ratings import, the dashboards' divergence rates and leaderboard win rates equal what the
raw ratings say, computed here straight from the file, with ties half and with ties left out."""

import random
from collections import defaultdict
from itertools import combinations

import pytest

from alignment.dashboards.group_divergence import divergence_report
from alignment.dashboards.reports import ALL_GROUPS, leaderboard_report
from annotation.counted_judgments import study_ties_set
from annotation.judgment_files import judgments_import
from annotation.models import Candidate, Pair
from annotation.study_files import study_import
from tests.factories import jsonl_bytes, study_lines

pytestmark = pytest.mark.django_db


@pytest.fixture
def rated(db):
    """Two prompts of six candidates from three sources; the study made two pairs per prompt itself."""
    lines = study_lines(slug="rated", prompts=2, candidates=6, strategy="random", pairs_per_prompt=2)
    for prompt in lines[1:]:
        for c, candidate in enumerate(prompt["candidates"]):
            candidate["source"] = f"model-{c % 3}"
    study = study_import(jsonl_bytes(lines), source="rated.jsonl").study
    rng = random.Random(11)
    ratings = [
        {"annotator_id": f"w{w}", "attributes": {"party": "DR"[w % 2]}, "prompt_id": f"p{p}",
         "candidate_id": f"p{p}c{c}", "rating": rng.choice([1, 1, 2, 3, 5])}
        for w in range(14) for p in range(2) for c in rng.sample(range(6), rng.randint(2, 6))
    ]
    judgments_import(study=study, stream=jsonl_bytes(ratings))
    return study, ratings


def raw_outcomes(ratings: list[dict]) -> list[tuple[str, str, str, float]]:
    """(group, candidate x, candidate y, x's points: 1 won, 0 lost, 0.5 tie) for every two rated candidates."""
    rated: dict[tuple[str, str, str], dict[str, float]] = defaultdict(dict)
    for line in ratings:
        rated[(line["annotator_id"], f"party={line['attributes']['party']}", line["prompt_id"])][
            line["candidate_id"]] = line["rating"]
    return [(group, x, y, 1.0 if r[x] > r[y] else 0.0 if r[x] < r[y] else 0.5)
            for (_, group, _), r in rated.items() for x, y in combinations(sorted(r), 2)]


def raw_rates(outcomes, pair_a: dict[frozenset, str], drop: bool) -> dict[tuple[frozenset, str], float]:
    wins, n = defaultdict(float), defaultdict(int)
    for group, x, y, points in outcomes:
        if drop and points == 0.5:
            continue
        key = (frozenset((x, y)), group)
        wins[key] += points if pair_a[key[0]] == x else 1 - points
        n[key] += 1
    groups_of = defaultdict(set)
    for pair, group in n:
        groups_of[pair].add(group)
    # The divergence report lists the pairs that two or more groups judged.
    return {key: round(wins[key] / n[key], 4) for key in n if len(groups_of[key[0]]) >= 2}


def raw_win_rates(outcomes, source: dict[str, str], drop: bool) -> dict[tuple[str, str], float]:
    points, games = defaultdict(float), defaultdict(int)
    for group, x, y, p in outcomes:
        if source[x] == source[y] or (drop and p == 0.5):
            continue
        for board in (group, ALL_GROUPS):
            points[(board, source[x])] += p
            points[(board, source[y])] += 1 - p
            games[(board, source[x])] += 1
            games[(board, source[y])] += 1
    return {key: round(points[key] / games[key], 4) for key in games}


@pytest.mark.parametrize("ties", ["half", "drop"])
def test_divergence_rates_and_win_rates_equal_the_raw_ratings(rated, ties):
    study, ratings = rated
    study_ties_set(study=study, ties=ties)
    outcomes = raw_outcomes(ratings)
    assert any(points == 0.5 for *_, points in outcomes)  # the case the rule is about
    names = dict(Candidate.objects.filter(prompt__study=study).values_list("pk", "external_id"))
    source = dict(Candidate.objects.filter(prompt__study=study).values_list("external_id", "source"))
    pair_a, pair_key = {}, {}
    for pk, a, b in Pair.objects.filter(prompt__study=study).values_list("pk", "candidate_a", "candidate_b"):
        pair_a[frozenset((names[a], names[b]))] = names[a]
        pair_key[pk] = frozenset((names[a], names[b]))

    shown = {(pair_key[row["pair_id"]], row["group"]): row["rate_a"]
             for row in divergence_report(study=study).details["group_rates"]()}
    assert shown == raw_rates(outcomes, pair_a, drop=ties == "drop")

    scores = leaderboard_report(study=study, draws=20).table("scores")
    assert {(row["group"], row["competitor"]): row["win_rate"] for row in scores if row["games"]} == raw_win_rates(
        outcomes, source, drop=ties == "drop")
