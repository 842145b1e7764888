"""An import's embedding on the `embeddings` queue (issue 11): the import lands at once, a PairingJob row embeds
its texts and makes its pairs; its state and progress are what users see; faults end in a clear state."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from annotation.errors import Conflict
from annotation.models import Pair, PairingJob, Slot
from annotation.pairing_jobs import (
    pairing_job_execute,
    pairing_job_retry,
    pairing_jobs_sweep,
    study_preparation,
)
from annotation.study_files import study_import
from tests.factories import jsonl_bytes, make_study, study_lines


def queued_import(**kwargs):
    """A study file imported as the doors import it: pairs left to a worker."""
    return study_import(jsonl_bytes(study_lines(**kwargs)), source="queued.jsonl", on_worker=True)


def _pairs(study) -> set[tuple[str, str, str, float]]:
    return {(p.prompt.external_id, p.candidate_a.external_id, p.candidate_b.external_id, round(p.diversity, 5))
            for p in Pair.objects.filter(prompt__study=study).select_related("prompt", "candidate_a", "candidate_b")}


def test_an_import_for_the_worker_stores_prompts_and_candidates_and_queues_a_job_with_no_pairs_yet(db):
    summary = queued_import(slug="q", prompts=3, candidates=3)
    assert (summary.prompts, summary.candidates, summary.pairs) == (3, 9, 0)
    job = summary.job
    assert job.status == PairingJob.Status.QUEUED and job.texts_total == 9 and job.texts_done == 0
    assert sorted(job.prompt_ids) == sorted(summary.study.prompts.values_list("pk", flat=True))
    assert not Pair.objects.filter(prompt__study=summary.study).exists()
    assert study_preparation(study=summary.study).as_dict() == {
        "state": "embedding", "texts_done": 0, "texts_total": 9, "error": None, "job_id": job.pk}


def test_the_job_embeds_the_texts_then_makes_the_pairs_with_their_slots(db):
    summary = queued_import(slug="q", prompts=3, candidates=3, overlap=3)
    job = pairing_job_execute(job_id=summary.job.pk, worker="w1")
    assert job.status == PairingJob.Status.SUCCEEDED, job.error
    assert (job.texts_done, job.texts_total, job.pairs_made, job.attempts, job.worker) == (9, 9, 9, 1, "w1")
    assert Pair.objects.filter(prompt__study=summary.study).count() == 9  # strategy all: 3 per prompt
    assert Slot.objects.filter(study=summary.study).count() == 9 * 3
    assert study_preparation(study=summary.study).ready


def test_the_worker_makes_the_same_pairs_as_an_inline_import_of_the_same_file(db):
    inline = make_study(slug="inline", prompts=4, candidates=5, strategy="nc")
    queued = queued_import(slug="queued", prompts=4, candidates=5, strategy="nc")
    # The inline import cached every text: the queued one needs no worker and pairs at once.
    assert queued.job is None and queued.pairs == 16
    assert {p[1:] for p in _pairs(inline)} == {p[1:] for p in _pairs(queued.study)}


def test_an_import_whose_texts_are_all_cached_makes_its_pairs_at_once(db):
    make_study(slug="first", prompts=2, candidates=3)
    summary = queued_import(slug="again", prompts=2, candidates=3)
    assert summary.job is None and summary.pairs == 6
    assert not PairingJob.objects.exists()
    assert study_preparation(study=summary.study).ready


def test_progress_counts_texts_already_in_the_cache_as_done(db):
    make_study(slug="first", prompts=2, candidates=3)  # caches p0 and p1's texts
    summary = queued_import(slug="more", prompts=4, candidates=3)
    assert (summary.job.texts_done, summary.job.texts_total) == (6, 12)
    assert pairing_job_execute(job_id=summary.job.pk).status == PairingJob.Status.SUCCEEDED
    assert Pair.objects.filter(prompt__study=summary.study).count() == 12


def test_a_job_that_fails_says_why_and_leaves_no_pair_half_made(db, tmp_path):
    make_study(slug="first", prompts=2, candidates=3)
    summary = queued_import(slug="more", prompts=4, candidates=3)
    # A real fault: the configured embedding model is not on this machine.
    with override_settings(EMBEDDING_MODEL=str(tmp_path / "no-such-model")):
        job = pairing_job_execute(job_id=summary.job.pk, worker="w1")
    assert job.status == PairingJob.Status.FAILED and job.finished_at is not None
    assert "not available offline" in job.error
    # Not even the prompts whose texts were cached got pairs: all of a job's pairs or none.
    assert not Pair.objects.filter(prompt__study=summary.study).exists()
    preparation = study_preparation(study=summary.study)
    assert preparation.state == "failed" and "not available offline" in preparation.error


def test_a_failed_job_is_retried_and_then_makes_the_pairs(db, tmp_path, django_capture_on_commit_callbacks):
    summary = queued_import(slug="q", prompts=2, candidates=3)
    with override_settings(EMBEDDING_MODEL=str(tmp_path / "no-such-model")):
        pairing_job_execute(job_id=summary.job.pk)
    with django_capture_on_commit_callbacks() as sent:  # not run: the test calls the worker's body itself
        job = pairing_job_retry(job=PairingJob.objects.get(pk=summary.job.pk))
    assert job.status == PairingJob.Status.QUEUED and job.error == "" and len(sent) == 1
    job = pairing_job_execute(job_id=job.pk)
    assert job.status == PairingJob.Status.SUCCEEDED, job.error
    assert Pair.objects.filter(prompt__study=summary.study).count() == 6


def test_only_a_failed_job_can_be_retried(db):
    summary = queued_import(slug="q", prompts=1, candidates=2)
    with pytest.raises(Conflict):
        pairing_job_retry(job=summary.job)


def test_a_job_already_taken_is_not_run_twice(db):
    summary = queued_import(slug="q", prompts=1, candidates=3)
    pairing_job_execute(job_id=summary.job.pk)
    again = pairing_job_execute(job_id=summary.job.pk)  # a redelivered message
    assert again.status == PairingJob.Status.SUCCEEDED and again.attempts == 1
    assert Pair.objects.filter(prompt__study=summary.study).count() == 3


@override_settings(EMBEDDING_STALE_AFTER_SECONDS=60, EMBEDDING_MAX_ATTEMPTS=2,
                   CELERY_BROKER_URL="redis://127.0.0.1:9/0", CELERY_BROKER_TRANSPORT_OPTIONS={})
def test_the_sweep_requeues_a_job_whose_worker_stopped_beating_then_fails_it_after_the_last_attempt(db):
    summary = queued_import(slug="q", prompts=1, candidates=2)
    long_ago = timezone.now() - timedelta(minutes=5)
    PairingJob.objects.filter(pk=summary.job.pk).update(status=PairingJob.Status.RUNNING, attempts=1,
                                                        heartbeat_at=long_ago, worker="killed")
    pairing_jobs_sweep()  # the broker (port 9: nothing listens) is down: the job waits in the queue
    job = PairingJob.objects.get(pk=summary.job.pk)
    assert (job.status, job.worker, job.enqueued_at) == (PairingJob.Status.QUEUED, "", None)
    # A re-run after a worker died mid-way is the ordinary run: texts cached so far are not embedded again.
    assert pairing_job_execute(job_id=job.pk).status == PairingJob.Status.SUCCEEDED

    again = queued_import(slug="r", prompts=1, candidates=3)
    PairingJob.objects.filter(pk=again.job.pk).update(status=PairingJob.Status.RUNNING, attempts=2,
                                                      heartbeat_at=long_ago)
    pairing_jobs_sweep()
    job = PairingJob.objects.get(pk=again.job.pk)
    assert job.status == PairingJob.Status.FAILED and "stopped responding" in job.error and "2 attempts" in job.error


def test_a_live_job_is_left_alone_by_the_sweep(db):
    summary = queued_import(slug="q", prompts=1, candidates=2)
    PairingJob.objects.filter(pk=summary.job.pk).update(status=PairingJob.Status.RUNNING, attempts=1,
                                                        heartbeat_at=timezone.now())
    pairing_jobs_sweep()
    assert PairingJob.objects.get(pk=summary.job.pk).status == PairingJob.Status.RUNNING


@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:9/0", CELERY_BROKER_TRANSPORT_OPTIONS={})
def test_with_the_broker_down_the_import_still_lands_and_its_job_waits_for_the_sweep(
        db, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        summary = queued_import(slug="q", prompts=2, candidates=2)
    job = PairingJob.objects.get(pk=summary.job.pk)
    assert job.status == PairingJob.Status.QUEUED and job.enqueued_at is None  # never reached a broker
    assert summary.study.prompts.count() == 2
    assert pairing_jobs_sweep() == 0  # still down: still queued, nothing lost
    assert PairingJob.objects.get(pk=job.pk).status == PairingJob.Status.QUEUED


# --- what annotators see while a study is being prepared ----------------------------------------------------


def _joined(client, slug: str) -> None:
    client.get(f"/s/{slug}/?PROLIFIC_PID=PID-{slug}")
    client.post(f"/s/{slug}/", {"consent": "yes"})
    assert client.post(f"/s/{slug}/profile/", {"party": "D"}).status_code == 302


def test_an_annotator_of_a_study_still_embedding_is_asked_to_come_back_and_gets_no_code(client, db):
    queued_import(slug="prep", prompts=2, candidates=2, quota=5)
    _joined(client, "prep")
    page = client.get("/s/prep/annotate/")
    assert page.status_code == 200 and page["Retry-After"] == "60"
    assert b"still being prepared" in page.content and b"CODE-1" not in page.content
    # The completion page sends them back to it rather than paying for work that does not exist yet.
    done = client.get("/s/prep/done/")
    assert done.status_code == 302 and done["Location"] == "/s/prep/annotate/"
    assert b"CODE-1" not in client.get("/s/prep/done/", follow=True).content


def test_the_preparing_page_speaks_the_study_language(client, db):
    queued_import(slug="prepfr", prompts=1, candidates=2, language="fr")
    _joined(client, "prepfr")
    content = client.get("/s/prepfr/annotate/").content.decode()
    assert "encore en préparation" in content and "Réessayer" in content


def test_a_failed_job_still_hands_out_no_code(client, db, tmp_path):
    summary = queued_import(slug="bad", prompts=1, candidates=2)
    with override_settings(EMBEDDING_MODEL=str(tmp_path / "no-such-model")):
        pairing_job_execute(job_id=summary.job.pk)
    _joined(client, "bad")
    assert b"CODE-1" not in client.get("/s/bad/done/", follow=True).content


def test_once_the_job_is_done_the_annotator_gets_pairs(client, db):
    summary = queued_import(slug="later", prompts=1, candidates=2)
    _joined(client, "later")
    assert b"still being prepared" in client.get("/s/later/annotate/").content
    pairing_job_execute(job_id=summary.job.pk)
    page = client.get("/s/later/annotate/").content
    assert b'name="assignment"' in page


def test_the_loop_api_answers_next_with_a_clear_preparing_state(db, django_user_model):
    from rest_framework.test import APIClient

    summary = queued_import(slug="api", prompts=1, candidates=3)
    joined = APIClient().post("/api/studies/api/join/", {"consent": True, "attributes": {"party": "D"},
                                                         "external_id": "A1"}, format="json")
    client = APIClient(HTTP_AUTHORIZATION=f"Token {joined.json()['token']}")
    response = client.post("/api/studies/api/next/")
    assert response.status_code == 503 and response["Retry-After"] == "60"
    assert response.json() == {"detail": "The study is still being prepared: its pairs are not ready yet.",
                               "code": "study_preparing", "texts_done": 0, "texts_total": 3}
    pairing_job_execute(job_id=summary.job.pk)
    assert client.post("/api/studies/api/next/").status_code == 200


def test_the_study_api_shows_researchers_the_preparation_and_its_progress(db, researcher):
    from tests.factories import client_for

    summary = queued_import(slug="seen", prompts=2, candidates=3)
    detail = client_for(researcher).get("/api/studies/seen/").json()
    assert detail["preparation"] == {"state": "embedding", "texts_done": 0, "texts_total": 6, "error": None,
                                     "job_id": summary.job.pk}
    assert detail["counts"]["pairs"] == 0
    pairing_job_execute(job_id=summary.job.pk)
    detail = client_for(researcher).get("/api/studies/seen/").json()
    assert detail["preparation"]["state"] == "ready" and detail["counts"]["pairs"] == 6


@override_settings(CELERY_BROKER_URL="redis://127.0.0.1:9/0", CELERY_BROKER_TRANSPORT_OPTIONS={})
def test_import_study_queues_the_embedding_and_says_so_and_with_wait_pairs_in_its_own_process(
        db, tmp_path, django_capture_on_commit_callbacks):
    import io

    from django.core.management import call_command

    for slug in ("cmd", "cmdwait"):
        (tmp_path / f"{slug}.jsonl").write_bytes(jsonl_bytes(study_lines(slug=slug, prompts=2, candidates=3))
                                                 .getvalue().replace(b"Answer", slug.encode()))
    out = io.StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_study", str(tmp_path / "cmd.jsonl"), stdout=out)
    assert "2 prompts, 6 candidates, 0 pairs" in out.getvalue()
    assert "embedding 6 of 6 texts on the `embeddings` queue" in out.getvalue()
    assert "the task broker did not take the job: it stays queued" in out.getvalue()  # port 9: no broker

    out = io.StringIO()
    call_command("import_study", str(tmp_path / "cmdwait.jsonl"), "--wait", stdout=out)
    assert "2 prompts, 6 candidates, 6 pairs" in out.getvalue() and "queue" not in out.getvalue()


def test_the_home_page_tells_researchers_which_study_is_being_prepared(client, db, researcher):
    queued_import(slug="home", prompts=2, candidates=3)
    make_study(slug="ready-one", prompts=1, candidates=2)
    client.force_login(researcher)
    page = client.get("/").content.decode()
    assert page.count("being prepared") == 1 and "0 / 6 texts embedded" in page
