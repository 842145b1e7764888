"""A refit trains on exactly the snapshot recorded at launch: what arrives between launch and the worker's
start is not read, and `judgment_count` is the number of judgments it trained on."""

import pytest

from alignment.fits import fit_run_execute, fit_run_launch
from annotation.judgment_files import judgments_import
from annotation.models import Judgment, Participant
from tests.alignment.fit_data import disagreeing_lines, disagreeing_study
from tests.alignment.test_spica_refit import RATINGS_D
from tests.factories import jsonl_bytes, make_study

pytestmark = pytest.mark.django_db


def test_judgments_added_after_launch_are_not_trained_on(db):
    study = disagreeing_study(prompts=6, annotators=12)
    at_launch = set(Participant.objects.filter(study=study).values_list("pk", flat=True))
    run = fit_run_launch(study=study, kind="pal", params={"k": 2, "max_epochs": 3}, user=None)
    judgments_import(study=study, stream=jsonl_bytes(disagreeing_lines(range(12, 16), range(6))))
    assert Participant.objects.filter(study=study).count() == 16

    run = fit_run_execute(run_id=run.pk)
    assert run.status == "succeeded", run.error
    assert set(run.metrics["participant_ids"]) == at_launch
    assert run.judgment_count == 12 * 6 * 6 == Judgment.objects.filter(id__lte=run.last_judgment_id).count()


def test_judgment_count_counts_only_what_a_fit_trains_on(db):
    study = disagreeing_study(prompts=6, annotators=12)
    lines = [{"annotator_id": "x", "attributes": {"party": "D"}, "prompt_id": "p0", "a": "p0c0", "b": "p0c1",
              "choice": "both_bad"}]
    judgments_import(study=study, stream=jsonl_bytes(lines))
    run = fit_run_launch(study=study, kind="pal", params={}, user=None)
    assert run.judgment_count == 12 * 6 * 6 == Judgment.objects.count() - 1


def _ratings(annotators: range, prompts: range) -> list[dict]:
    return [{"annotator_id": f"r{n}", "attributes": {"party": "DR"[n % 2]}, "prompt_id": f"p{p}",
             "candidate_id": f"p{p}c{i}", "rating": RATINGS_D[i] if n % 2 == 0 else RATINGS_D[3 - i]}
            for n in annotators for p in prompts for i in range(4)]


def test_ratings_added_after_launch_are_not_read_by_a_spica_refit(db):
    study = make_study(slug="rated", prompts=12, candidates=4, strategy="all")
    judgments_import(study=study, stream=jsonl_bytes(_ratings(range(8), range(10))))
    run = fit_run_launch(study=study, kind="spica", params={"m": 3}, user=None)
    judgments_import(study=study, stream=jsonl_bytes(_ratings(range(8), range(10, 12))))

    run = fit_run_execute(run_id=run.pk)
    assert run.status == "succeeded", run.error
    assert run.metrics["scenarios"] == 10
