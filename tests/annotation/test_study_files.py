import pytest

from annotation.errors import InputError
from annotation.models import Candidate, Pair, Prompt, Slot, Study
from annotation.study_files import study_import
from tests.factories import jsonl_bytes, study_lines

pytestmark = pytest.mark.django_db


def import_lines(lines, **kwargs):
    return study_import(jsonl_bytes(lines), source="study.jsonl", **kwargs)


def test_a_study_file_creates_prompts_candidates_pairs_and_slots():
    summary = import_lines(study_lines(prompts=2, candidates=4, overlap=3))
    assert (summary.prompts, summary.candidates, summary.pairs) == (2, 8, 12)
    assert summary.study.group_attributes == {"party": ["D", "R"]}
    # k = 3 over two groups: one slot for D, one for R, one open.
    groups = sorted(Slot.objects.filter(pair=Pair.objects.first()).values_list("group_key", flat=True))
    assert groups == ["", "party=D", "party=R"]
    prompt = Prompt.objects.get(external_id="p1")
    assert prompt.turns[0]["role"] == "user" and prompt.tags == ["t"]


def test_every_pair_records_its_diversity():
    import_lines(study_lines(prompts=1, candidates=3))
    diversities = list(Pair.objects.values_list("diversity", flat=True))
    assert len(diversities) == 3 and all(0.0 < d <= 2.0 for d in diversities)


def test_the_random_and_nc_strategies_make_the_requested_number_of_pairs():
    import_lines(study_lines(slug="r", prompts=2, candidates=4, strategy="random", pairs_per_prompt=2))
    import_lines(study_lines(slug="n", prompts=2, candidates=4, strategy="nc", pairs_per_prompt=2))
    assert Pair.objects.filter(strategy="random").count() == 4
    assert Pair.objects.filter(strategy="nc").count() == 4


def test_append_adds_new_prompts_to_an_existing_study():
    import_lines(study_lines(prompts=1))
    lines = study_lines(prompts=2)
    summary = import_lines([lines[0], lines[2]], append=True)
    assert summary.prompts == 1 and Prompt.objects.count() == 2


def test_an_existing_slug_is_refused_without_append():
    import_lines(study_lines())
    with pytest.raises(InputError, match="already exists") as error:
        import_lines(study_lines())
    assert (error.value.line, error.value.field) == (1, "study.slug")


def _broken(line_index: int, change) -> list:
    lines = study_lines(prompts=3)
    lines[line_index] = change(lines[line_index]) if callable(change) else change
    return lines


@pytest.mark.parametrize(("line_index", "change", "line", "field", "message"), [
    (2, '{"prompt_id": "p1", "turns": [', 3, None, "invalid JSON"),
    (0, lambda h: {"study": {k: v for k, v in h["study"].items() if k != "consent"}}, 1, "study.consent", "required"),
    (0, lambda h: {"study": h["study"] | {"overlap": "three"}}, 1, "study.overlap", "integer"),
    (0, lambda h: {"study": h["study"] | {"group_attributes": {"party": []}}}, 1, "study.group_attributes.party",
     "non-empty"),
    (3, lambda p: {k: v for k, v in p.items() if k != "turns"}, 4, "turns", "required"),
    (2, lambda p: p | {"turns": [{"role": "robot", "content": "x"}]}, 3, "turns[0].role", "one of"),
    (3, lambda p: p | {"candidates": p["candidates"][:1]}, 4, "candidates", "at least two"),
    (3, lambda p: p | {"candidates": [p["candidates"][0], p["candidates"][0]]}, 4, "candidates[1].candidate_id",
     "duplicate"),
    (2, lambda p: p | {"candidates": [{"candidate_id": "x"}, *p["candidates"]]}, 3, "candidates[0].text", "required"),
    (3, lambda p: p | {"prompt_id": "p0"}, 4, "prompt_id", "duplicate"),
])
def test_a_bad_study_file_names_line_and_field_and_changes_nothing(line_index, change, line, field, message):
    with pytest.raises(InputError, match=message) as error:
        import_lines(_broken(line_index, change))
    assert (error.value.line, error.value.field, error.value.source) == (line, field, "study.jsonl")
    assert f"study.jsonl:{line}" in str(error.value)
    assert not Study.objects.exists() and not Prompt.objects.exists() and not Candidate.objects.exists()


def test_an_empty_file_is_refused():
    with pytest.raises(InputError, match="empty"):
        import_lines([])
