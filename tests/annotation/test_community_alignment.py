"""Community Alignment CSV in and out (issue 13): what the import stores equals what the rows say, the export
writes the same schema back, and bad rows abort the whole file naming its line and column."""

import csv
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from annotation.community_alignment import COLUMNS, community_alignment_import, community_alignment_lines
from annotation.counted_judgments import judgments_that_count
from annotation.errors import InputError
from annotation.models import Candidate, CandidateSet, Conversation, Judgment, Participant, Prompt, SetJudgment
from annotation.set_expansion import as_shown, set_comparisons
from tests.factories import make_study

pytestmark = pytest.mark.django_db
COUNTRIES = {"country": ["US", "FR", "IN"]}


def conversation(cid: str, annotator: str, *, country: str = "US", turns: int = 2, pregenerated: str = "True",
                 preferred: str = "response_b", feedback: str = "", **cells) -> dict[str, str]:
    row = {name: "" for name in COLUMNS}
    row.update(conversation_id=cid, annotator_id=annotator, assigned_lang="en",
               is_pregenerated_first_prompt=pregenerated,
               annotator_age="25-34", annotator_gender="Woman", annotator_education_level="Bachelor",
               annotator_political="Moderate", annotator_ethnicity="", annotator_country=country)
    for n, turn in enumerate(("first", "second", "third", "fourth")[:turns], start=1):
        row[f"{turn}_turn_prompt"] = f"{cid} question {n}: should cities ban cars,\nor not?"
        for x in "abcd":
            row[f"{turn}_turn_response_{x}"] = f"{cid} turn {n} answer {x}, with \"quotes\" and a, comma"
        row[f"{turn}_turn_preferred_response"] = preferred
        row[f"{turn}_turn_feedback"] = feedback or f"{annotator} liked {preferred} on turn {n}"
    row.update(cells)
    return row


def csv_bytes(rows: list[dict], columns: list[str] = COLUMNS) -> io.BytesIO:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return io.BytesIO(out.getvalue().encode())


@pytest.fixture
def ca_study():
    return make_study(slug="ca", prompts=1, group_attributes=COUNTRIES, task="set")


def test_each_turn_becomes_a_prompt_carrying_the_conversation_so_far(ca_study):
    summary = community_alignment_import(study=ca_study, stream=csv_bytes([
        conversation("c1", "w1", turns=3, preferred="response_c")]))
    assert (summary.set_judgments, summary.comparisons, summary.conversations) == (3, 9, 1)
    third = Prompt.objects.get(study=ca_study, external_id="c1:3")
    assert [t["role"] for t in third.turns] == ["user", "assistant", "user", "assistant", "user"]
    assert third.turns[1]["content"] == "c1 turn 1 answer c, with \"quotes\" and a, comma"  # the chosen one
    assert third.turns[0]["content"] == "c1 question 1: should cities ban cars,\nor not?"
    assert "turn-3" in third.tags and third.language == "en"
    first = Prompt.objects.get(study=ca_study, external_id="c1:1")
    assert "pregenerated-first-prompt" in first.tags
    assert set(Candidate.objects.filter(prompt=first).values_list("strategy", flat=True)) == {"nc-generated"}
    assert Conversation.objects.get(external_id="c1").first_prompt_pregenerated is True


def test_annotator_written_first_prompts_are_marked_so_researchers_can_filter_them(ca_study):
    community_alignment_import(study=ca_study, stream=csv_bytes([conversation("c1", "w1", pregenerated="False")]))
    prompt = Prompt.objects.get(study=ca_study, external_id="c1:1")
    assert "annotator-written" in prompt.tags
    assert Conversation.objects.get(external_id="c1").first_prompt_pregenerated is False


def test_demographics_become_attributes_and_the_study_attributes_decide_the_group(ca_study):
    community_alignment_import(study=ca_study, stream=csv_bytes([
        conversation("c1", "w1", country="FR"), conversation("c2", "w1", country="FR"),
        conversation("c3", "w2", country="IN")]))
    w1 = Participant.objects.get(study=ca_study, external_id="w1")
    assert w1.group_key == "country=FR"
    assert w1.attributes == {"country": "FR", "age": "25-34", "gender": "Woman", "education_level": "Bachelor",
                             "political": "Moderate"}
    assert SetJudgment.objects.filter(participant=w1).count() == 4


def test_the_stored_comparisons_are_exactly_the_expansion_of_each_set_judgment(ca_study):
    community_alignment_import(study=ca_study, stream=csv_bytes([
        conversation("c1", "w1", preferred="response_a"), conversation("c2", "w2", preferred="response_d")]))
    for sj in SetJudgment.objects.filter(participant__study=ca_study):
        expected = [(*as_shown(c, sj.shown), c.implied) for c in set_comparisons(sj.shown, sj.best_id, sj.ranking)]
        stored = list(Judgment.objects.filter(set_judgment=sj).order_by("id").values_list(
            "candidate_a_id", "candidate_b_id", "choice", "implied"))
        assert stored == expected
        assert all(j.group_key == sj.group_key and j.origin == "set"
                   for j in Judgment.objects.filter(set_judgment=sj))


def test_dashboards_count_the_pairwise_judgments_of_imported_sets(ca_study):
    community_alignment_import(study=ca_study, stream=csv_bytes([conversation("c1", "w1", turns=4)]))
    assert judgments_that_count(study=ca_study).filter(origin="set").count() == 12


def test_export_writes_the_same_rows_back(ca_study):
    rows = [conversation("c1", "w1", turns=4, preferred="response_d", feedback="=SUM(A1) looks like a formula"),
            conversation("c2", "w2", country="IN", turns=1, pregenerated="False"),
            conversation("c3", "w1", turns=2, pregenerated="")]
    community_alignment_import(study=ca_study, stream=csv_bytes(rows))
    exported = list(csv.DictReader(io.StringIO("".join(community_alignment_lines(study=ca_study)))))
    assert [r["first_turn_feedback"] for r in exported][0] == "'=SUM(A1) looks like a formula"  # spreadsheet-safe
    again = make_study(slug="ca2", prompts=1, group_attributes=COUNTRIES, task="set")
    community_alignment_import(study=again, stream=csv_bytes(exported))
    round_trip = list(csv.DictReader(io.StringIO("".join(community_alignment_lines(study=again)))))
    assert round_trip == exported
    by_id = {r["conversation_id"]: r for r in exported}
    for row in rows:
        got = by_id[row["conversation_id"]]
        for name in COLUMNS:
            if name.endswith("_feedback") and row[name].startswith("="):
                continue
            assert got[name] == row[name], name


def test_a_missing_middle_turn_is_reported_with_line_and_column_and_nothing_is_kept(ca_study):
    rows = [conversation("c1", "w1"), conversation("c2", "w2", turns=3, second_turn_prompt="",
                                                  **{f"second_turn_response_{x}": "" for x in "abcd"},
                                                  second_turn_preferred_response="", second_turn_feedback="")]
    with pytest.raises(InputError) as caught:
        community_alignment_import(study=ca_study, stream=csv_bytes(rows), source="ca.csv")
    # The first row spans lines 2-4 (each of its two prompts holds a newline); the second starts on line 5.
    assert (caught.value.source, caught.value.line, caught.value.field) == ("ca.csv", 5, "second_turn_prompt")
    assert "missing middle turn" in str(caught.value)
    assert not SetJudgment.objects.exists() and not Conversation.objects.exists()
    assert not Prompt.objects.filter(study=ca_study, external_id__startswith="c1").exists()


@pytest.mark.parametrize(("cells", "column", "message"), [
    ({"first_turn_preferred_response": "response_e"}, "first_turn_preferred_response", "response_a"),
    ({"first_turn_response_c": ""}, "first_turn_response_c", "must not be empty"),
    ({"annotator_country": "Mars"}, "annotator_country", "not an allowed value"),
    ({"annotator_country": ""}, "annotator_country", "missing value"),
    ({"is_pregenerated_first_prompt": "maybe"}, "is_pregenerated_first_prompt", "true or false"),
    ({"conversation_id": ""}, "conversation_id", "must not be empty"),
    ({"first_turn_prompt": "bad \x00 byte"}, "first_turn_prompt", "NUL"),
])
def test_bad_cells_name_their_column(ca_study, cells, column, message):
    with pytest.raises(InputError, match=message) as caught:
        community_alignment_import(study=ca_study, stream=csv_bytes([conversation("c1", "w1", **cells)]))
    assert (caught.value.line, caught.value.field) == (2, column)


def test_a_conversation_imported_twice_is_refused(ca_study):
    community_alignment_import(study=ca_study, stream=csv_bytes([conversation("c1", "w1")]))
    with pytest.raises(InputError, match="already in the study"):
        community_alignment_import(study=ca_study, stream=csv_bytes([conversation("c2", "w2"),
                                                                     conversation("c1", "w1")]))
    assert SetJudgment.objects.count() == 2  # the second file left nothing


def test_an_annotator_whose_group_changes_between_rows_is_refused(ca_study):
    with pytest.raises(InputError, match="already in group") as caught:
        community_alignment_import(study=ca_study, stream=csv_bytes([
            conversation("c1", "w1", country="US"), conversation("c2", "w1", country="FR")]))
    assert (caught.value.line, caught.value.field) == (5, "annotator_id")  # row 1 spans lines 2-4


def test_a_file_without_the_required_columns_or_rows_is_refused(ca_study):
    with pytest.raises(InputError, match="missing column"):
        community_alignment_import(study=ca_study, stream=csv_bytes([], columns=["conversation_id", "x"]))
    with pytest.raises(InputError, match="no conversations"):
        community_alignment_import(study=ca_study, stream=csv_bytes([]))
    with pytest.raises(InputError, match="empty"):
        community_alignment_import(study=ca_study, stream=io.BytesIO(b""))
    with pytest.raises(InputError, match="cells"):
        community_alignment_import(study=ca_study, stream=io.BytesIO(",".join(COLUMNS).encode() + b"\nc1,w1\n"))
    with pytest.raises(InputError, match="UTF-8"):
        community_alignment_import(study=ca_study, stream=io.BytesIO(",".join(COLUMNS).encode() + b"\n\xff\xfe,\n"))


def test_the_commands_import_and_export_the_format(ca_study, tmp_path):
    source = tmp_path / "ca.csv"
    source.write_bytes(csv_bytes([conversation("c1", "w1")]).getvalue())
    out = io.StringIO()
    call_command("import_judgments", "ca", str(source), "--format", "community-alignment", stdout=out)
    assert "2 set judgments (6 pairwise comparisons)" in out.getvalue()
    target = tmp_path / "out.csv"
    call_command("export_judgments", "ca", "--format", "community-alignment", "-o", str(target))
    assert next(csv.DictReader(target.open()))["second_turn_preferred_response"] == "response_b"
    with pytest.raises(CommandError, match="already in the study"):
        call_command("import_judgments", "ca", str(source), "--format", "community-alignment")
    assert CandidateSet.objects.filter(prompt__study=ca_study).count() == 2


def test_the_pair_group_counts_take_the_imported_sets_comparisons(ca_study):
    from tests.annotation.test_allocation import _counts_by_group_by, _counts_table

    community_alignment_import(study=ca_study, stream=csv_bytes([
        conversation("c1", "w1", preferred="response_a"), conversation("c2", "w2", country="FR")]))
    assert len(_counts_table()) == Judgment.objects.filter(origin="set").count() == 12
    assert _counts_table() == _counts_by_group_by()


def test_a_byte_that_is_not_utf8_is_blamed_on_its_own_line_and_a_byte_order_mark_is_accepted(ca_study):
    good = csv_bytes([conversation("c1", "w1"), conversation("c2", "w2")]).getvalue()
    lines = good.split(b"\n")
    bad_line = next(n for n, line in enumerate(lines, start=1) if line.startswith(b"c2,"))
    lines[bad_line - 1] = lines[bad_line - 1].replace(b"w2", b"w\xe92", 1)
    with pytest.raises(InputError, match="not UTF-8") as caught:
        community_alignment_import(study=ca_study, stream=io.BytesIO(b"\n".join(lines)), source="ca.csv")
    assert caught.value.line == bad_line > 2
    assert not SetJudgment.objects.exists()
    summary = community_alignment_import(study=ca_study, stream=io.BytesIO(b"\xef\xbb\xbf" + good), source="ca.csv")
    assert summary.conversations == 2


def test_an_annotator_column_outside_the_releases_demographics_comes_back_in_the_export(ca_study):
    rows = [conversation("c1", "w1", annotator_religion="none"), conversation("c2", "w2", annotator_religion="")]
    community_alignment_import(study=ca_study, stream=csv_bytes(rows, [*COLUMNS, "annotator_religion"]))
    exported = list(csv.DictReader(io.StringIO("".join(community_alignment_lines(study=ca_study)))))
    header = list(exported[0])
    assert header.index("annotator_religion") == header.index("annotator_country") + 1
    assert {r["conversation_id"]: r["annotator_religion"] for r in exported} == {"c1": "none", "c2": ""}
