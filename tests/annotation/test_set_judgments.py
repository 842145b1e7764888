"""Storing one set judgment (issue 13): its pairwise judgments are the expansion's, refusals keep Judgment's one
judgment per (annotator, pair), and set studies validate their task and set size."""

import pytest

from annotation.errors import Conflict, InputError
from annotation.judgment_files import judgments_import
from annotation.models import Candidate, Judgment, Pair, Slot, Study
from annotation.set_expansion import as_shown, set_comparisons
from annotation.set_judgments import candidate_set_create, set_judgment_create
from tests.factories import jsonl_bytes, make_participant, make_study, study_lines

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup():
    study = make_study(slug="sets", prompts=1, candidates=6, task="set", set_size=4)
    ids = list(Candidate.objects.filter(prompt__study=study).order_by("external_id").values_list("pk", flat=True))
    prompt_id = Candidate.objects.get(pk=ids[0]).prompt_id
    return study, prompt_id, ids


def test_a_ranked_set_judgment_stores_exactly_the_expanded_comparisons_on_slotless_pairs(setup):
    study, prompt_id, ids = setup
    chosen = candidate_set_create(prompt_id=prompt_id, candidate_ids=ids[:4], strategy="nc", diversity=0.4)
    who = make_participant(study, party="R")
    shown = [ids[2], ids[0], ids[3], ids[1]]
    sj = set_judgment_create(participant=who, candidate_set=chosen, shown=shown, best=ids[3],
                             ranking=[[ids[0], ids[1]], [ids[2]]], explanation="clearest", client_id="k1")
    expected = [(*as_shown(c, shown), c.implied) for c in set_comparisons(shown, ids[3], [[ids[0], ids[1]], [ids[2]]])]
    stored = list(Judgment.objects.filter(set_judgment=sj).order_by("id").values_list(
        "candidate_a_id", "candidate_b_id", "choice", "implied"))
    assert stored == expected and len(stored) == 6
    assert set(Judgment.objects.filter(set_judgment=sj).values_list("group_key", "origin")) == {("party=R", "set")}
    pairs = Pair.objects.filter(judgments__set_judgment=sj)
    assert set(pairs.values_list("strategy", flat=True)) == {"set"}
    assert not Slot.objects.filter(pair__in=pairs).exists()


def test_a_second_set_sharing_a_judged_pair_is_refused_and_leaves_nothing(setup):
    study, prompt_id, ids = setup
    first = candidate_set_create(prompt_id=prompt_id, candidate_ids=ids[:4], strategy="nc")
    overlapping = candidate_set_create(prompt_id=prompt_id, candidate_ids=ids[2:6], strategy="nc")
    who = make_participant(study)
    set_judgment_create(participant=who, candidate_set=first, shown=ids[:4], best=ids[2], client_id="k1")
    before = Judgment.objects.count()
    with pytest.raises(Conflict):
        set_judgment_create(participant=who, candidate_set=overlapping, shown=ids[2:6], best=ids[3], client_id="k2")
    with pytest.raises(Conflict):
        set_judgment_create(participant=who, candidate_set=first, shown=ids[:4], best=ids[1], client_id="k3")
    assert Judgment.objects.count() == before
    other = make_participant(study, party="R", external_id="other")
    set_judgment_create(participant=other, candidate_set=overlapping, shown=ids[2:6], best=ids[3], client_id="k4")


def test_a_pair_judged_as_a_pair_task_blocks_the_set_that_holds_it(setup):
    study, prompt_id, ids = setup
    judgments_import(study=study, stream=jsonl_bytes([{"annotator_id": "w", "attributes": {"party": "D"},
                                                       "prompt_id": "p0", "a": "p0c0", "b": "p0c1", "choice": "A"}]))
    chosen = candidate_set_create(prompt_id=prompt_id, candidate_ids=ids[:4], strategy="random")
    who = study.participants.get(external_id="w")
    # Best only: c3 over each other member, so c0 vs c1 is not stated and the set may be judged.
    set_judgment_create(participant=who, candidate_set=chosen, shown=ids[:4], best=ids[3], client_id="k1")
    again = candidate_set_create(prompt_id=prompt_id, candidate_ids=[ids[0], ids[1], ids[4]], strategy="random")
    with pytest.raises(Conflict):
        set_judgment_create(participant=who, candidate_set=again, shown=[ids[0], ids[1], ids[4]], best=ids[0],
                            client_id="k2")


def test_inconsistent_set_judgments_are_refused(setup):
    study, prompt_id, ids = setup
    chosen = candidate_set_create(prompt_id=prompt_id, candidate_ids=ids[:4], strategy="nc")
    who = make_participant(study)
    with pytest.raises(InputError, match="each member"):
        set_judgment_create(participant=who, candidate_set=chosen, shown=ids[:3], best=ids[0], client_id="k1")
    stranger = make_participant(make_study(slug="other", prompts=1), external_id="elsewhere")
    with pytest.raises(InputError, match="another study"):
        set_judgment_create(participant=stranger, candidate_set=chosen, shown=ids[:4], best=ids[0], client_id="k1")
    with pytest.raises(InputError, match="ranked twice"):
        set_judgment_create(participant=who, candidate_set=chosen, shown=ids[:4], best=ids[0],
                            ranking=[[ids[0]]], client_id="k1")


def test_study_files_take_task_and_set_size_and_refuse_others():
    from annotation.study_files import study_import

    made = make_study(slug="plain", prompts=1)
    assert (made.task, made.set_size) == ("pair", 4)
    assert Pair.objects.filter(prompt__study=made).exists()
    sets = make_study(slug="sets6", prompts=1, candidates=6, task="set", set_size=6)
    assert (sets.task, sets.set_size) == ("set", 6)
    assert not Pair.objects.filter(prompt__study=sets).exists()  # sets and their slots come with the set loop
    for extra, field in (({"task": "triangle"}, "study.task"), ({"set_size": 7}, "study.set_size"),
                         ({"set_size": 2}, "study.set_size")):
        with pytest.raises(InputError) as caught:
            study_import(jsonl_bytes(study_lines(slug="bad", **extra)))
        assert caught.value.field == field
    assert not Study.objects.filter(slug="bad").exists()
