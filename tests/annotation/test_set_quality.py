"""The quality page of a set study (issue 13): counts, times, position bias and agreement read the set judgments
themselves, not their expanded comparisons."""

import pytest
from django.utils import timezone

from annotation.models import Candidate
from annotation.quality import study_annotator_quality
from annotation.set_judgments import candidate_set_create, set_judgment_create
from tests.factories import client_for, make_participant, make_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def judged_sets():
    study = make_study(slug="setq", prompts=2, candidates=3, task="set", set_size=3, min_judgment_ms=1000)
    c = {cand.external_id: cand.pk for cand in Candidate.objects.filter(prompt__study=study)}
    s0 = candidate_set_create(prompt_id=Candidate.objects.get(pk=c["p0c0"]).prompt_id,
                              candidate_ids=[c["p0c0"], c["p0c1"], c["p0c2"]], strategy="random")
    s1 = candidate_set_create(prompt_id=Candidate.objects.get(pk=c["p1c0"]).prompt_id,
                              candidate_ids=[c["p1c0"], c["p1c1"], c["p1c2"]], strategy="random")
    d1, d2 = make_participant(study, external_id="d1"), make_participant(study, external_id="d2")
    r1 = make_participant(study, party="R", external_id="r1")
    judgments = [  # (who, set, shown, best, ms)
        (d1, s0, ["p0c0", "p0c1", "p0c2"], "p0c0", 500),  # the first shown, too fast
        (d1, s1, ["p1c1", "p1c0", "p1c2"], "p1c0", 3000),
        (d2, s0, ["p0c2", "p0c1", "p0c0"], "p0c0", 2000),
        (r1, s0, ["p0c1", "p0c2", "p0c0"], "p0c1", 4000),  # the first shown
    ]
    for n, (who, cset, shown, best, ms) in enumerate(judgments):
        set_judgment_create(participant=who, candidate_set=cset, shown=[c[x] for x in shown], best=c[best],
                            client_id=f"q-{n}", time_taken_ms=ms, created_at=timezone.now())
    return study


def _rows(study) -> dict:
    return {row.annotator: row for row in study_annotator_quality(study=study)}


def test_set_judgments_fill_the_quality_columns(judged_sets):
    rows = _rows(judged_sets)
    d1, r1 = rows["d1"], rows["r1"]
    assert d1.judgments == 2  # set judgments, not their 4 comparisons
    assert (d1.median_ms, d1.timed, d1.fast_share) == (1750.0, 2, 0.5)
    assert d1.position_bias == 0.5  # one of two picks was the response shown first
    assert (d1.own_group_n, d1.own_group_agreement) == (1, 1.0)  # d2 picked the same best of set 0
    assert (d1.other_group_n, d1.other_group_agreement) == (1, 0.0)  # r1 did not
    assert (r1.judgments, r1.position_bias, r1.own_group_n, r1.own_group_agreement) == (1, 1.0, 0, None)
    assert (r1.other_group_n, r1.other_group_agreement) == (2, 0.0)
    assert all(row.gold_n == 0 and row.gold_accuracy is None for row in rows.values())


def test_an_excluded_annotator_leaves_the_others_agreement(judged_sets, admin_user):
    from annotation.annotator_review import annotator_set_excluded
    from annotation.models import Participant

    annotator_set_excluded(participant=Participant.objects.get(external_id="d2"), excluded=True, by=admin_user)
    d1 = _rows(judged_sets)["d1"]
    assert (d1.own_group_n, d1.own_group_agreement) == (0, None)


def test_the_quality_page_of_a_set_study_says_what_its_columns_mean(judged_sets, researcher):
    page = client_for(researcher).get(f"/studies/{judged_sets.slug}/quality/").content.decode()
    assert "This is a set study" in page and "1/3 is unbiased" in page
    csv_rows = client_for(researcher).get(f"/studies/{judged_sets.slug}/quality/?download=csv").content.decode()
    d1_line = next(line for line in csv_rows.splitlines() if ",d1," in line)
    assert ",d1,party=D,2,1750" in d1_line  # annotator, group, set judgments, median ms
