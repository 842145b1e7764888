"""A ratings import in bulk (issue 11): what it stores equals what the raw ratings say, pairs made for it
have no slots, explicit judgments win, and it stays all or nothing."""

import random
from itertools import combinations

import pytest

from annotation import judgment_files
from annotation.errors import InputError
from annotation.judgment_files import judgments_import
from annotation.models import Judgment, Pair, Participant, Rating, Slot
from tests.factories import jsonl_bytes, make_study

pytestmark = pytest.mark.django_db


def rating(annotator: str, party: str, prompt: str, candidate: str, value: float) -> dict:
    return {"annotator_id": annotator, "attributes": {"party": party}, "prompt_id": prompt,
            "candidate_id": candidate, "rating": value}


def generated_ratings(seed: int = 3, annotators: int = 12, prompts: int = 2, candidates: int = 6) -> list[dict]:
    rng = random.Random(seed)
    lines = []
    for w in range(annotators):
        for p in range(prompts):
            for c in rng.sample(range(candidates), rng.randint(2, candidates)):
                lines.append(rating(f"w{w}", "DR"[w % 2], f"p{p}", f"p{p}c{c}", rng.choice([1, 2, 2, 3, 5])))
    return lines


def raw_judgments(lines: list[dict]) -> set[tuple]:
    """(annotator, prompt, {candidate: rating} of the two) for every two candidates one annotator rated."""
    by_annotator: dict[tuple[str, str], dict[str, float]] = {}
    for line in lines:
        by_annotator.setdefault((line["annotator_id"], line["prompt_id"]), {})[line["candidate_id"]] = line["rating"]
    return {(who, prompt, frozenset({(x, rated[x]), (y, rated[y])}))
            for (who, prompt), rated in by_annotator.items() for x, y in combinations(sorted(rated), 2)}


def stored_judgments() -> set[tuple]:
    rows = Judgment.objects.select_related("participant", "pair__prompt", "candidate_a", "candidate_b")
    out = set()
    for j in rows:
        a, b = (j.candidate_a.external_id, j.rating_a), (j.candidate_b.external_id, j.rating_b)
        expected = "A" if j.rating_a > j.rating_b else "B" if j.rating_b > j.rating_a else "tie"
        assert j.choice == expected and j.origin == Judgment.Origin.RATINGS
        assert {j.candidate_a_id, j.candidate_b_id} == {j.pair.candidate_a_id, j.pair.candidate_b_id}
        out.add((j.participant.external_id, j.pair.prompt.external_id, frozenset({a, b})))
    return out


@pytest.fixture
def sampled_study(db):
    """Two prompts of six candidates, three pairs each made by the study (with their k slots)."""
    return make_study(prompts=2, candidates=6, strategy="random", pairs_per_prompt=3)


def test_a_ratings_import_stores_one_judgment_for_every_two_candidates_an_annotator_rated(sampled_study,
                                                                                          monkeypatch):
    monkeypatch.setattr(judgment_files, "FLUSH_ROWS", 7)  # many flushes, each after its new pairs
    lines = generated_ratings()
    summary = judgments_import(study=sampled_study, stream=jsonl_bytes(lines))
    assert stored_judgments() == raw_judgments(lines)
    assert summary.from_ratings == len(raw_judgments(lines)) == Judgment.objects.count()
    assert summary.ratings == Rating.objects.count() == len(lines)


def test_pairs_made_by_a_ratings_import_have_no_slots_and_the_studys_own_pairs_keep_theirs(sampled_study):
    before = set(Pair.objects.values_list("pk", flat=True))
    slots = Slot.objects.count()
    summary = judgments_import(study=sampled_study, stream=jsonl_bytes(generated_ratings()))
    made = Pair.objects.exclude(pk__in=before)
    assert summary.pairs_created == made.count() > 0
    assert set(made.values_list("strategy", flat=True)) == {"imported"}
    assert not Slot.objects.filter(pair__in=made).exists() and Slot.objects.count() == slots
    # Judgments of the study's own pairs went onto those pairs, not onto a reversed twin.
    assert Judgment.objects.filter(pair_id__in=before).exists()
    assert Pair.objects.count() == len({frozenset(ab) for ab in Pair.objects.values_list("candidate_a", "candidate_b")})


def test_an_explicit_judgment_in_the_same_file_wins_over_the_one_its_ratings_derive(sampled_study):
    lines = [
        {"annotator_id": "w1", "attributes": {"party": "D"}, "prompt_id": "p0", "a": "p0c4", "b": "p0c5",
         "choice": "B"},
        rating("w1", "D", "p0", "p0c4", 5), rating("w1", "D", "p0", "p0c5", 1), rating("w1", "D", "p0", "p0c3", 1),
    ]
    summary = judgments_import(study=sampled_study, stream=jsonl_bytes(lines))
    assert (summary.judgments, summary.from_ratings) == (1, 2)
    kept = Judgment.objects.get(candidate_a__external_id="p0c4", candidate_b__external_id="p0c5")
    assert (kept.choice, kept.origin) == ("B", Judgment.Origin.IMPORT)
    assert Judgment.objects.filter(pair=kept.pair).count() == 1


def test_a_bad_rating_after_many_good_ones_leaves_nothing_behind(sampled_study):
    pairs = Pair.objects.count()
    lines = [*generated_ratings(), rating("w99", "D", "p0", "p0c0", "high")]
    with pytest.raises(InputError, match="number") as error:
        judgments_import(study=sampled_study, stream=jsonl_bytes(lines), source="r.jsonl")
    assert (error.value.line, error.value.field) == (len(lines), "rating")
    assert Pair.objects.count() == pairs
    assert not Judgment.objects.exists() and not Rating.objects.exists() and not Participant.objects.exists()


def test_reimporting_the_same_ratings_is_refused_and_adds_no_pairs(sampled_study):
    lines = generated_ratings()
    judgments_import(study=sampled_study, stream=jsonl_bytes(lines))
    pairs, judged = Pair.objects.count(), Judgment.objects.count()
    with pytest.raises(InputError, match="already has this rating"):
        judgments_import(study=sampled_study, stream=jsonl_bytes(lines))
    assert (Pair.objects.count(), Judgment.objects.count()) == (pairs, judged)
