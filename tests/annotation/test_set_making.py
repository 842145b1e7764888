"""A set study's candidate sets (issue 13), made where a pair study's pairs are made: by the pairing job (or an
inline import), by the study's strategy, stable and never duplicated; prompts too small for a set are reported."""

import io
from math import comb

import numpy as np
import pytest
from django.core.management import call_command
from django.test import override_settings

from alignment.embedding_store import embeddings_for_texts
from annotation.errors import InputError
from annotation.models import Candidate, CandidateSet, Pair, PairingJob, Prompt, Slot
from annotation.pairing_jobs import pairing_job_execute, pairing_job_retry, study_preparation, tasks_create
from annotation.selectors import study_counts
from annotation.study_files import study_import
from tests.factories import client_for, jsonl_bytes, study_lines

# Two candidates say the same thing (identical texts embed identically: cosine distance 0); the rest differ.
DUPLICATE = "Taxes on the rich should rise so that public schools get more money."
OTHERS = [
    "The moon's craters were mostly formed by ancient asteroid impacts.",
    "Sourdough bread needs a starter fed with flour and water for days.",
    "Chess openings like the Sicilian Defence favour dynamic counterplay.",
]


def set_study_lines(slug: str, *, prompts: int = 6, strategy: str = "nc", set_size: int = 4, candidates=None,
                    **extra) -> list[dict]:
    """A set study of `prompts` prompts, each with the two duplicates and OTHERS (five candidates) by default."""
    lines = study_lines(slug=slug, prompts=prompts, candidates=0, strategy=strategy, task="set", set_size=set_size,
                        **extra)
    texts = candidates or [DUPLICATE, DUPLICATE, *OTHERS]
    for p, line in enumerate(lines[1:]):
        # The slug in each text keeps other tests' embedding cache from making this import's job unnecessary.
        line["candidates"] = [{"candidate_id": f"p{p}c{c}", "text": f"{text} ({slug})"} for c, text in enumerate(texts)]
    return lines


def queued(lines: list[dict]):
    return study_import(jsonl_bytes(lines), source="sets.jsonl", on_worker=True)


def sets_of(study) -> list[tuple[int, str, list[int], str, float, int]]:
    return [(s.pk, s.prompt.external_id, s.members, s.strategy, s.diversity, s.size)
            for s in CandidateSet.objects.filter(prompt__study=study).select_related("prompt").order_by("pk")]


def holds_both_duplicates(candidate_set: CandidateSet) -> bool:
    texts = list(Candidate.objects.filter(pk__in=candidate_set.members).values_list("text", flat=True))
    return sum(t.startswith(DUPLICATE) for t in texts) == 2


def test_the_pairing_job_of_a_set_study_makes_nc_sets_of_set_size_and_no_pairs(db):
    summary = queued(set_study_lines("setjob"))
    assert summary.job is not None and summary.sets == 0 and summary.pairs == 0
    assert study_preparation(study=summary.study).state == "embedding"
    job = pairing_job_execute(job_id=summary.job.pk, worker="w1")
    assert job.status == PairingJob.Status.SUCCEEDED, job.error
    sets = CandidateSet.objects.filter(prompt__study=summary.study)
    # Default sets_per_prompt: ceil(5 / 4) = 2 per prompt, the fewest that can show every candidate.
    assert (job.sets_made, job.pairs_made, sets.count()) == (12, 0, 12)
    assert {s.size for s in sets} == {4} and {s.strategy for s in sets} == {"nc"}
    assert not Pair.objects.filter(prompt__study=summary.study).exists()
    # Each set's k slots (the set-task loop), split across the groups D / R: floor(3 / 2) each, one open.
    for s in sets:
        assert sorted(Slot.objects.filter(candidate_set=s).values_list("group_key", flat=True)) == \
            ["", "party=D", "party=R"]
    assert not Slot.objects.filter(study=summary.study, pair__isnull=False).exists()
    for s in sets:
        own = list(Candidate.objects.filter(prompt=s.prompt_id).values_list("pk", flat=True))
        assert s.members == sorted(s.members) and len(set(s.members)) == 4 and set(s.members) <= set(own)
    assert study_preparation(study=summary.study).ready
    assert study_counts(study=summary.study)["sets"] == 12


def test_nc_sets_never_hold_both_near_duplicates_and_random_sets_sometimes_do(db):
    nc = queued(set_study_lines("dupnc", prompts=8))
    random = queued(set_study_lines("duprandom", prompts=8, strategy="random"))
    for summary in (nc, random):
        assert pairing_job_execute(job_id=summary.job.pk).status == PairingJob.Status.SUCCEEDED
    nc_sets = CandidateSet.objects.filter(prompt__study=nc.study)
    random_sets = CandidateSet.objects.filter(prompt__study=random.study)
    assert nc_sets.count() == random_sets.count() == 16
    assert not any(holds_both_duplicates(s) for s in nc_sets)
    # 3 of the 5 four-sets of five candidates hold both: 16 random draws all missing them has odds 0.4^16.
    assert any(holds_both_duplicates(s) for s in random_sets)
    assert {s.strategy for s in random_sets} == {"random"}


def test_each_sets_diversity_is_the_mean_pairwise_cosine_distance_of_its_members(db):
    summary = study_import(jsonl_bytes(set_study_lines("divers", prompts=2, set_size=3, strategy="random")),
                           source="d.jsonl")
    sets = CandidateSet.objects.filter(prompt__study=summary.study)
    assert sets.count() == 4  # ceil(5 / 3) per prompt
    for s in sets:
        texts = [Candidate.objects.get(pk=pk).text for pk in s.members]
        x = np.asarray(embeddings_for_texts(texts), dtype=np.float64)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        expected = np.mean([1 - x[i] @ x[j] for i in range(3) for j in range(i + 1, 3)])
        assert s.diversity == pytest.approx(expected, abs=1e-6)


def test_a_set_with_both_duplicates_has_lower_diversity_than_one_without(db):
    summary = study_import(jsonl_bytes(set_study_lines("allsets", prompts=1, strategy="all")), source="a.jsonl")
    sets = list(CandidateSet.objects.filter(prompt__study=summary.study).order_by("pk"))
    assert len(sets) == comb(5, 4) and len({tuple(s.members) for s in sets}) == 5  # `all`: every 4-subset
    with_both = [s.diversity for s in sets if holds_both_duplicates(s)]
    without = [s.diversity for s in sets if not holds_both_duplicates(s)]
    assert len(with_both) == 3 and max(with_both) < min(without)


def test_a_retried_or_redelivered_job_makes_no_duplicate_sets(db, tmp_path, django_capture_on_commit_callbacks):
    summary = queued(set_study_lines("retry", prompts=3))
    job = pairing_job_execute(job_id=summary.job.pk)
    before = sets_of(summary.study)
    assert job.sets_made == 6 and len(before) == 6
    # A redelivered message finds the job done; a job put back in the queue (the sweep, an admin's retry) runs
    # again and finds every set made.
    assert pairing_job_execute(job_id=job.pk).attempts == 1
    PairingJob.objects.filter(pk=job.pk).update(status=PairingJob.Status.FAILED)
    with django_capture_on_commit_callbacks():
        pairing_job_retry(job=PairingJob.objects.get(pk=job.pk))
    again = pairing_job_execute(job_id=job.pk)
    assert again.status == PairingJob.Status.SUCCEEDED and again.sets_made == 0
    assert sets_of(summary.study) == before


def test_appending_to_a_set_study_adds_the_new_prompts_sets_and_keeps_the_old_ones(db):
    summary = study_import(jsonl_bytes(set_study_lines("app", prompts=2)), source="a.jsonl")
    before = sets_of(summary.study)
    more = set_study_lines("app", prompts=4)
    more = [more[0]] + [dict(line, prompt_id=f"new{i}") for i, line in enumerate(more[3:])]
    appended = study_import(jsonl_bytes(more), source="b.jsonl", append=True)
    assert appended.sets == 2 * 2
    after = sets_of(summary.study)
    assert after[:len(before)] == before and len(after) == 8


def test_the_worker_and_an_inline_import_make_the_same_sets_in_the_same_order(db):
    # The seed is the prompt's (study id and prompt id), so the same study's prompts are compared: once made by
    # the job, once (sets deleted) by the function an inline import calls.
    summary = queued(set_study_lines("same", prompts=3))
    assert pairing_job_execute(job_id=summary.job.pk).sets_made == 6
    by_worker = [s[1:] for s in sets_of(summary.study)]
    CandidateSet.objects.filter(prompt__study=summary.study).delete()
    own = Prompt.objects.filter(study=summary.study).order_by("id")
    prompts = [(p, list(p.candidates.order_by("id"))) for p in own]
    assert tasks_create(study=summary.study, prompts=prompts) == 6
    assert [s[1:] for s in sets_of(summary.study)] == by_worker


def test_a_prompt_with_fewer_candidates_than_set_size_is_reported_and_gets_no_set(db):
    lines = set_study_lines("short", prompts=3)
    lines[2]["candidates"] = lines[2]["candidates"][:2]
    lines[2]["prompt_id"] = "tiny"
    summary = queued(lines)
    assert summary.short_prompts == ["tiny"]
    job = pairing_job_execute(job_id=summary.job.pk)
    assert job.status == PairingJob.Status.SUCCEEDED, job.error
    assert job.sets_made == 4 and "tiny" in job.notes and "set_size 4" in job.notes
    assert not CandidateSet.objects.filter(prompt__external_id="tiny").exists()


def test_sets_per_prompt_from_the_study_file_sets_how_many_sets_a_prompt_gets(db):
    # Default for 5 candidates in sets of 3: ceil(5 / 3) = 2 a prompt; sets_per_prompt 1 overrides it. (A larger
    # value is an upper bound: nc stops early when no start yields a new distinct set.)
    summary = study_import(jsonl_bytes(set_study_lines("per", prompts=3, set_size=3, sets_per_prompt=1)),
                           source="p.jsonl")
    assert summary.study.sets_per_prompt == 1 and summary.sets == 3
    assert sorted(s[1] for s in sets_of(summary.study)) == ["p0", "p1", "p2"]


@pytest.mark.parametrize("value", [0, -1, "3", 10_001])
def test_a_bad_sets_per_prompt_is_refused_naming_the_field(db, value):
    with pytest.raises(InputError) as caught:
        study_import(jsonl_bytes(set_study_lines("bad", prompts=1, sets_per_prompt=value)), source="bad.jsonl")
    assert "study.sets_per_prompt" in str(caught.value) and "bad.jsonl:1:" in str(caught.value)


@override_settings(PLURALWEB_MAX_PAIRS_PER_STUDY=12)
def test_strategy_all_beyond_the_study_limit_is_refused_with_a_clear_error(db):
    texts = [f"Opinion number {i} on a hard question." for i in range(8)]  # C(8, 4) = 70 sets
    with pytest.raises(InputError) as caught:
        study_import(jsonl_bytes(set_study_lines("toomany", prompts=1, strategy="all", candidates=texts)),
                     source="big.jsonl")
    message = str(caught.value)
    assert "more than 12 candidate sets" in message and "big.jsonl:2:" in message and "sets_per_prompt" in message
    assert not CandidateSet.objects.exists()


def test_import_study_says_how_many_sets_it_made_and_names_the_short_prompts(db, tmp_path):
    lines = set_study_lines("cmdsets", prompts=2)
    lines[2]["candidates"] = lines[2]["candidates"][:3]
    (tmp_path / "s.jsonl").write_bytes(jsonl_bytes(lines).getvalue())
    out = io.StringIO()
    call_command("import_study", str(tmp_path / "s.jsonl"), "--wait", stdout=out)
    assert "2 prompts, 8 candidates, 2 candidate sets" in out.getvalue()
    assert "fewer candidates than set_size 4 and got no set: p1" in out.getvalue()


def test_the_study_api_counts_sets_for_a_set_study_and_not_for_a_pair_study(db, researcher):
    queued(set_study_lines("apisets", prompts=2))
    study_import(jsonl_bytes(study_lines(slug="apipairs", prompts=1, candidates=3)), source="p.jsonl")
    client = client_for(researcher)
    detail = client.get("/api/studies/apisets/").json()
    assert detail["counts"]["sets"] == 0 and detail["preparation"]["state"] == "embedding"
    pairing_job_execute(job_id=PairingJob.objects.get(study__slug="apisets").pk)
    detail = client.get("/api/studies/apisets/").json()
    assert (detail["counts"]["sets"], detail["counts"]["pairs"], detail["preparation"]["state"]) == (4, 0, "ready")
    assert "sets" not in client.get("/api/studies/apipairs/").json()["counts"]


def test_the_admin_keeps_the_task_and_set_size_of_a_study_with_sets(db):
    from django.forms.models import model_to_dict

    from annotation.admin import StudyAdminForm

    study = study_import(jsonl_bytes(set_study_lines("adminsets", prompts=1)), source="a.jsonl").study

    def form(**changes):
        data = {k: v for k, v in model_to_dict(study).items() if v is not None}
        data.update(group_attributes='{"party": ["D", "R"]}', attribute_labels="{}", practice="[]", **changes)
        return StudyAdminForm(data=data, instance=study)

    assert form().is_valid(), form().errors
    assert "set_size" in form(set_size=3).errors and "task" in form(task="pair").errors
    assert form(sets_per_prompt=3).is_valid()  # affects later imports only
