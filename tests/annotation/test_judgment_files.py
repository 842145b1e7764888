import csv
import io
import json

import pytest

from annotation.errors import InputError
from annotation.judgment_export import export_lines
from annotation.judgment_files import judgments_import
from annotation.models import Judgment, Participant, Rating
from tests.factories import jsonl_bytes, make_study

pytestmark = pytest.mark.django_db


def judgment(annotator="w1", party="D", prompt="p0", a="p0c0", b="p0c1", choice="A", **extra):
    return {"annotator_id": annotator, "attributes": {"party": party}, "prompt_id": prompt, "a": a, "b": b,
            "choice": choice, **extra}


def rating(annotator="w1", party="R", prompt="p0", candidate="p0c0", value=3):
    return {"annotator_id": annotator, "attributes": {"party": party}, "prompt_id": prompt,
            "candidate_id": candidate, "rating": value}


def test_pairwise_judgments_are_imported_with_their_annotators(study):
    summary = judgments_import(study=study, stream=jsonl_bytes([
        judgment(strength="clearly", rationale="kinder", created_at="2025-01-02T03:04:05Z"),
        judgment(annotator="w2", party="R", a="p0c2", b="p0c0", choice="tie"),
    ]))
    assert (summary.judgments, summary.participants) == (2, 2)
    stored = Judgment.objects.get(participant__external_id="w1")
    assert (stored.choice, stored.strength, stored.rationale, stored.group_key) == ("A", "clearly", "kinder", "party=D")
    assert stored.created_at.isoformat() == "2025-01-02T03:04:05+00:00"
    assert Participant.objects.get(external_id="w2").user is None


def test_ratings_become_pairwise_judgments_between_candidates_rated_on_one_prompt(study):
    summary = judgments_import(study=study, stream=jsonl_bytes([
        rating(candidate="p0c0", value=5), rating(candidate="p0c1", value=2), rating(candidate="p0c2", value=5),
        rating(prompt="p1", candidate="p1c0", value=1),  # alone on its prompt: no pair
    ]))
    assert (summary.ratings, summary.from_ratings) == (4, 3)
    derived = {(j.candidate_a.external_id, j.candidate_b.external_id): (j.choice, j.rating_a, j.rating_b)
               for j in Judgment.objects.select_related("candidate_a", "candidate_b")}
    assert derived == {("p0c0", "p0c1"): ("A", 5, 2), ("p0c0", "p0c2"): ("tie", 5, 5), ("p0c1", "p0c2"): ("B", 2, 5)}


@pytest.mark.parametrize(("line", "field", "message"), [
    (judgment(a="nope"), "a", "unknown candidate"),
    (judgment(prompt="p9"), "prompt_id", "unknown prompt"),
    ({k: v for k, v in judgment().items() if k != "choice"}, "choice", "required"),
    (judgment(choice="left"), "choice", "one of"),
    (judgment(party="X"), "attributes.party", "not an allowed value"),
    (judgment(created_at="yesterday"), "created_at", "ISO 8601"),
    (rating(value="high"), "rating", "number"),
    (rating(candidate="zzz"), "candidate_id", "unknown candidate"),
])
def test_a_bad_judgment_line_names_line_and_field_and_changes_nothing(study, line, field, message):
    good = [judgment(annotator=f"ok{i}") for i in range(3)]
    with pytest.raises(InputError, match=message) as error:
        judgments_import(study=study, stream=jsonl_bytes([*good, line]), source="j.jsonl")
    assert (error.value.line, error.value.field) == (4, field)
    assert not Judgment.objects.exists() and not Rating.objects.exists() and not Participant.objects.exists()


def test_invalid_json_names_the_line(study):
    with pytest.raises(InputError, match="invalid JSON") as error:
        judgments_import(study=study, stream=jsonl_bytes([judgment(), '{"annotator_id": ']))
    assert error.value.line == 2
    assert not Judgment.objects.exists()


def test_a_duplicate_judgment_in_a_file_names_both_lines(study):
    with pytest.raises(InputError, match="also on line 1") as error:
        judgments_import(study=study, stream=jsonl_bytes([judgment(), judgment(choice="B")]))
    assert error.value.line == 2


def test_a_judgment_already_stored_is_refused_on_reimport(study):
    judgments_import(study=study, stream=jsonl_bytes([judgment()]))
    with pytest.raises(InputError, match="already has"):
        judgments_import(study=study, stream=jsonl_bytes([judgment(annotator="w9"), judgment()]))
    assert Judgment.objects.count() == 1


def test_an_annotator_cannot_change_group_between_lines(study):
    with pytest.raises(InputError, match="already in group") as error:
        judgments_import(study=study, stream=jsonl_bytes([judgment(), judgment(b="p0c2", party="R")]))
    assert (error.value.line, error.value.field) == (2, "attributes")


def test_import_reads_the_file_as_a_stream(study):
    class LineStream(io.RawIOBase):
        """A non-seekable stream that hands out one line per read and counts what it gave."""

        def __init__(self, lines):
            self.lines = iter(lines)
            self.reads = 0

        def readable(self):
            return True

        def readinto(self, buffer):
            chunk = next(self.lines, b"")
            self.reads += 1
            buffer[: len(chunk)] = chunk
            return len(chunk)

    lines = [(json.dumps(judgment(annotator=f"w{i}")) + "\n").encode() for i in range(2500)]
    stream = LineStream(lines)
    summary = judgments_import(study=study, stream=io.BufferedReader(stream, buffer_size=256))
    assert summary.judgments == 2500 and stream.reads > 2500


def _snapshot(study):
    rows = Judgment.objects.filter(participant__study=study).select_related("participant", "candidate_a", "candidate_b",
                                                                          "pair__prompt")
    return sorted(
        (j.participant.external_id, j.participant.group_key, j.pair.prompt.external_id, j.candidate_a.external_id,
         j.candidate_b.external_id, j.choice, j.strength, j.rationale, j.created_at, j.rating_a, j.rating_b, j.origin)
        for j in rows
    )


def test_export_then_import_round_trips(study):
    judgments_import(study=study, stream=jsonl_bytes([
        judgment(strength="slightly", rationale="über ok", created_at="2025-05-05T10:00:00+00:00"),
        judgment(annotator="w2", party="R", prompt="p1", a="p1c1", b="p1c2", choice="both_bad"),
        rating(annotator="w3", candidate="p0c0", value=4),
        rating(annotator="w3", candidate="p0c1", value=1),
    ]))
    exported = "".join(export_lines(study=study, fmt="jsonl"))
    copy = make_study(slug="copy")
    judgments_import(study=copy, stream=io.BytesIO(exported.encode()))
    assert _snapshot(copy) == _snapshot(study)
    assert len(_snapshot(study)) == 3
    first = json.loads(exported.splitlines()[0])
    assert first["a_text"].startswith("Answer 0") and first["prompt"][0]["role"] == "user"


def test_csv_export_has_a_header_and_one_row_per_record(study):
    lines = [judgment(rationale='has "quotes", commas'), rating(annotator="w2")]
    judgments_import(study=study, stream=jsonl_bytes(lines))
    rows = list(csv.DictReader(io.StringIO("".join(export_lines(study=study, fmt="csv")))))
    assert [row["kind"] for row in rows] == ["judgment", "rating"]
    assert rows[0]["rationale"] == 'has "quotes", commas'
    assert json.loads(rows[0]["attributes"]) == {"party": "D"}
