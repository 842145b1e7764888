"""CSV exports are inert in spreadsheets (OWASP CSV injection) and still give back exactly what was stored."""

import csv
import io
import json

import pytest

from annotation.judgment_export import csv_cell_escape, csv_cell_unescape, export_lines
from annotation.judgment_files import judgments_import
from annotation.models import Judgment
from tests.factories import jsonl_bytes, make_study

pytestmark = pytest.mark.django_db

HOSTILE = ["=HYPERLINK(\"http://x.test\",\"y\")", "+1+2", "-2+3", "@SUM(A1)", "\tTAB", "\rCR", "'quoted", "'=both",
           "plain", "", "'"]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_cell_never_starts_like_a_formula_and_unescapes_to_itself(value):
    escaped = csv_cell_escape(value)
    assert not escaped.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert csv_cell_unescape(escaped) == value


def test_numbers_stay_numbers():
    assert csv_cell_escape(-1.5) == -1.5 and csv_cell_escape(-3) == -3


def _rows(study) -> list[dict]:
    return list(csv.DictReader(io.StringIO("".join(export_lines(study=study, fmt="csv")), newline="")))


def _line_from_row(row: dict) -> dict:
    """A judgment-file line from an exported CSV row, as a reader of our CSV would make it."""
    cell = {k: csv_cell_unescape(v) for k, v in row.items()}
    line = {"annotator_id": cell["annotator_id"], "attributes": json.loads(cell["attributes"]),
            "prompt_id": cell["prompt_id"], "created_at": cell["created_at"]}
    if cell["kind"] == "rating":
        return line | {"candidate_id": cell["candidate_id"], "rating": float(cell["rating"])}
    return line | {"a": cell["a"], "b": cell["b"], "choice": cell["choice"], "strength": cell["strength"],
                   "rationale": cell["rationale"]}


def test_hostile_texts_are_escaped_in_csv_and_the_export_reimports_to_the_same_judgments(study):
    lines = [{"annotator_id": f"{text}-w{i}" if text else f"w{i}", "attributes": {"party": "D", "note": text},
              "prompt_id": "p0", "a": "p0c0", "b": "p0c1", "choice": "A", "rationale": text,
              "created_at": "2025-01-02T03:04:05Z"} for i, text in enumerate(HOSTILE)]
    lines.append({"annotator_id": "=rater", "attributes": {"party": "R"}, "prompt_id": "p1", "candidate_id": "p1c0",
                  "rating": -2})
    judgments_import(study=study, stream=jsonl_bytes(lines))
    rows = _rows(study)
    assert len(rows) == len(HOSTILE) + 1
    for row in rows:
        assert not any(cell.startswith(("=", "+", "@", "\t", "\r")) for cell in row.values())
        assert not any(cell.startswith("-") and not cell.lstrip("-").replace(".", "").isdigit()
                       for cell in row.values())
    copy = make_study(slug="copy")
    judgments_import(study=copy, stream=jsonl_bytes([_line_from_row(row) for row in rows]))

    def stored(s):
        return sorted(Judgment.objects.filter(participant__study=s, origin="import").values_list(
            "participant__external_id", "participant__attributes", "choice", "rationale", "created_at"))

    assert stored(copy) == stored(study)
    assert [r["rating"] for r in _rows(copy) if r["kind"] == "rating"] == ["-2.0"]
