"""Collective-alignment JSONL in and out (issue 13): rankings with ties and rationales become set judgments whose
comparisons are the expansion's, the export reads back the same, and bad lines name their line and field."""

import io
import json

import pytest
from django.core.management import call_command

from annotation.collective_alignment import (
    collective_alignment_annotator_lines,
    collective_alignment_import,
    collective_alignment_lines,
)
from annotation.errors import InputError
from annotation.models import Judgment, Participant, Prompt, SetJudgment
from tests.factories import jsonl_bytes, make_study

pytestmark = pytest.mark.django_db
PEOPLE = [{"annotator_id": "u1", "country": "US", "age": 34, "religion": "none", "extra": {"nested": 1}},
          {"annotator_id": "u2", "country": "FR", "age": 51, "religion": "catholic"}]


def record(pid: str, *assessments: dict, n: int = 4) -> dict:
    return {
        "prompt_id": pid,
        "prompt": {"messages": [{"role": "system", "content": "Be helpful."},
                                {"role": "user", "content": f"{pid}: is it fine to eat meat?"}]},
        "responses": [{"response_index": letter, "content": f"{pid} answer {letter}"} for letter in "ABCDEF"[:n]],
        "assessments": list(assessments),
        "metadata": {"ignored": True},
    }


def assess(who: str, ranking, rationale: str = "because") -> dict:
    return {"annotator_id": who, "ranking": ranking, "rationale": rationale}


@pytest.fixture
def study():
    return make_study(slug="oa", prompts=1, group_attributes={"country": ["US", "FR"]}, task="set")


def imported(study, records, people=PEOPLE):
    return collective_alignment_import(study=study, stream=jsonl_bytes(records), source="c.jsonl",
                                       annotators=jsonl_bytes(people), annotators_source="a.jsonl")


def test_rankings_with_ties_become_set_judgments_and_their_expansion(study):
    summary = imported(study, [record("p1", assess("u1", "B>A=C>D"), assess("u2", "D"))])
    assert (summary.set_judgments, summary.prompts, summary.participants) == (2, 1, 2)
    # u1: B over A, C, D (3) + A=C tie, A>D, C>D (3); u2: D over the other three.
    assert summary.comparisons == 9
    u1 = SetJudgment.objects.get(participant__external_id="u1")
    candidates = Prompt.objects.get(external_id="p1").candidates
    letters = {c: ext[-1] for c, ext in candidates.values_list("pk", "external_id")}
    assert letters[u1.best_id] == "B"
    assert [[letters[c] for c in block] for block in u1.ranking] == [["A", "C"], ["D"]]
    assert u1.explanation == "because"
    choices = {(letters[a], letters[b], choice, implied) for a, b, choice, implied in Judgment.objects.filter(
        set_judgment=u1).values_list("candidate_a_id", "candidate_b_id", "choice", "implied")}
    assert choices == {("A", "B", "B", False), ("B", "C", "A", False), ("B", "D", "A", False),
                       ("A", "C", "tie", True), ("A", "D", "A", True), ("C", "D", "A", True)}
    # Two annotators of one set share its pairs.
    assert Judgment.objects.filter(set_judgment__candidate_set=u1.candidate_set).values("pair").distinct().count() == 6


def test_annotator_demographics_come_from_the_annotators_file(study):
    imported(study, [record("p1", assess("u1", "A"))])
    u1 = Participant.objects.get(external_id="u1")
    assert u1.group_key == "country=US"
    assert u1.attributes == {"country": "US", "age": "34", "religion": "none"}
    assert Prompt.objects.get(external_id="p1").turns[0] == {"role": "system", "content": "Be helpful."}


def test_export_and_reimport_give_the_same_records_and_annotators(study):
    records = [record("p1", assess("u1", "B>A=C>D", "first"), assess("u2", "C>D", "")),
               record("p2", assess("u2", "A>B", "short"), n=3)]
    imported(study, records)
    lines = [json.loads(line) for line in collective_alignment_lines(study=study)]
    people = [json.loads(line) for line in collective_alignment_annotator_lines(study=study)]
    assert [r["prompt_id"] for r in lines] == ["p1", "p2"]
    assert [(a["annotator_id"], a["ranking"], a["rationale"]) for a in lines[0]["assessments"]] == [
        ("u1", "B>A=C>D", "first"), ("u2", "C>D", "")]
    assert lines[0]["responses"][2] == {"response_index": "C", "content": "p1 answer C"}
    assert lines[0]["prompt"] == record("p1")["prompt"]["messages"]
    again = make_study(slug="oa2", prompts=1, group_attributes={"country": ["US", "FR"]}, task="set")
    imported(again, lines, people)
    assert [json.loads(line) for line in collective_alignment_lines(study=again)] == lines
    assert sorted(Judgment.objects.filter(participant__study=again).values_list("choice", "implied")) == sorted(
        Judgment.objects.filter(participant__study=study).values_list("choice", "implied"))


@pytest.mark.parametrize(("bad", "field", "message"), [
    ({"ranking": "A=B>C"}, "assessments[0].ranking", "not a tie"),
    ({"ranking": "A>Z"}, "assessments[0].ranking", "not a response_index"),
    ({"ranking": "A>B>A"}, "assessments[0].ranking", "ranked twice"),
    ({"ranking": 3}, "assessments[0].ranking", "must be a ranking"),
    ({"annotator_id": "nobody"}, "assessments[0].annotator_id", "not in the annotators file"),
    ({"rationale": "bad\x00"}, "assessments[0].rationale", "NUL"),
])
def test_bad_assessments_name_line_and_field_and_nothing_is_kept(study, bad, field, message):
    records = [record("p1", assess("u1", "A")), record("p2", {**assess("u2", "A"), **bad})]
    with pytest.raises(InputError, match=message) as caught:
        imported(study, records)
    assert (caught.value.source, caught.value.line, caught.value.field) == ("c.jsonl", 2, field)
    assert not SetJudgment.objects.exists() and not Prompt.objects.filter(external_id="p1").exists()


def test_bad_records_and_annotator_lines_are_refused(study):
    with pytest.raises(InputError, match="2 to 6") as caught:
        imported(study, [record("p1", assess("u1", "A"), n=1)])
    assert caught.value.field == "responses"
    one = record("p1")
    one["responses"][1]["response_index"] = "A"
    with pytest.raises(InputError, match="distinct"):
        imported(study, [one])
    with pytest.raises(InputError, match="assesses this record twice"):
        imported(study, [record("p1", assess("u1", "A"), assess("u1", "B"))])
    with pytest.raises(InputError, match="appears twice") as caught:
        imported(study, [record("p1")], [PEOPLE[0], PEOPLE[0]])
    assert (caught.value.source, caught.value.line) == ("a.jsonl", 2)
    with pytest.raises(InputError, match="not an allowed value"):
        imported(study, [record("p1", assess("u1", "A"))], [{"annotator_id": "u1", "country": "XX"}])
    with pytest.raises(InputError, match="appears twice in the file"):
        imported(study, [record("p1"), record("p1")])
    imported(study, [record("p1")])
    with pytest.raises(InputError, match="already has prompt"):
        imported(study, [record("p1")])


def test_the_commands_take_the_annotators_file(study, tmp_path):
    (tmp_path / "c.jsonl").write_bytes(jsonl_bytes([record("p1", assess("u1", "B>A"))]).getvalue())
    (tmp_path / "a.jsonl").write_bytes(jsonl_bytes(PEOPLE).getvalue())
    out = io.StringIO()
    call_command("import_judgments", "oa", str(tmp_path / "c.jsonl"), "--format", "collective-alignment",
                 "--annotators", str(tmp_path / "a.jsonl"), stdout=out)
    assert "1 set judgments (5 pairwise comparisons)" in out.getvalue()
    call_command("export_judgments", "oa", "--format", "collective-alignment", "-o", str(tmp_path / "out.jsonl"),
                 "--annotators-output", str(tmp_path / "people.jsonl"))
    assert json.loads((tmp_path / "out.jsonl").read_text())["assessments"][0]["ranking"] == "B>A"
    assert json.loads((tmp_path / "people.jsonl").read_text())["annotator_id"] == "u1"
