"""Hostile values in study and judgment files: each is refused with the line and field, and nothing is stored."""

import io
import json

import pytest
from django.urls import reverse

from annotation.errors import InputError
from annotation.judgment_files import judgments_import
from annotation.models import Judgment, Rating, Study
from annotation.study_files import study_import
from tests.factories import jsonl_bytes, study_lines

pytestmark = pytest.mark.django_db


def judgment(**extra):
    return {"annotator_id": "w1", "attributes": {"party": "D"}, "prompt_id": "p0", "a": "p0c0", "b": "p0c1",
            "choice": "A", **extra}


def rating(value, **extra):
    return {"annotator_id": "w1", "attributes": {"party": "D"}, "prompt_id": "p0", "candidate_id": "p0c0",
            "rating": value, **extra}


def import_judgment_text(study, text: str):
    return judgments_import(study=study, stream=io.BytesIO(text.encode()), source="j.jsonl")


@pytest.mark.parametrize("stamp", [
    "0001-01-01T00:00:00+01:00",  # year 0 in UTC: stored by PostgreSQL, unreadable by Python
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59-05:00",  # year 10000 in UTC
    "1969-12-31T23:59:59Z",
    "3000-01-01T00:00:00Z",
])
def test_a_timestamp_out_of_range_is_refused_with_its_line(study, stamp):
    with pytest.raises(InputError, match="out of range") as error:
        judgments_import(study=study, stream=jsonl_bytes([judgment(), judgment(annotator_id="w2", created_at=stamp)]))
    assert (error.value.line, error.value.field) == (2, "created_at")
    assert not Judgment.objects.exists()


def test_a_timestamp_with_an_offset_is_stored_in_utc(study):
    judgments_import(study=study, stream=jsonl_bytes([judgment(created_at="2025-01-02T03:04:05+02:00")]))
    assert Judgment.objects.get().created_at.isoformat() == "2025-01-02T01:04:05+00:00"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999", "1e10"])
def test_a_rating_that_is_not_a_finite_bounded_number_is_refused(study, literal):
    line = json.dumps(rating(0)).replace('"rating": 0', f'"rating": {literal}')
    with pytest.raises(InputError) as error:
        import_judgment_text(study, line + "\n")
    assert (error.value.line, error.value.field) == (1, "rating")
    assert not Rating.objects.exists()


@pytest.mark.parametrize("name", ["rating_a", "rating_b"])
def test_a_judgments_ratings_must_be_finite(study, name):
    line = json.dumps(judgment(**{name: 1})).replace(f'"{name}": 1', f'"{name}": NaN')
    with pytest.raises(InputError, match="finite") as error:
        import_judgment_text(study, line + "\n")
    assert error.value.field == name


def test_a_study_that_was_offered_a_poisoned_file_still_exports_and_shows_its_dashboard(study, researcher, api):
    with pytest.raises(InputError):
        judgments_import(study=study, stream=jsonl_bytes([judgment(created_at="0001-01-01T00:00:00+01:00")]))
    judgments_import(study=study, stream=jsonl_bytes([judgment(created_at="2025-01-02T03:04:05Z")]))
    api.force_authenticate(researcher)
    export = api.get(reverse("api:api-export", args=[study.slug]))
    assert export.status_code == 200 and len(b"".join(export.streaming_content).splitlines()) == 1


@pytest.mark.parametrize(("line", "field"), [
    (judgment(annotator_id="w\x00"), "annotator_id"),
    (judgment(rationale="bad\x00byte"), "rationale"),
    (judgment(attributes={"party": "D", "age\x00": "30"}), "attributes"),
    (judgment(attributes={"party": "D", "age": "3\x000"}), "attributes.age"),
    (judgment(prompt_id="p0\x00"), "prompt_id"),
])
def test_nul_characters_anywhere_in_a_judgment_line_are_refused(study, line, field):
    with pytest.raises(InputError, match="NUL") as error:
        judgments_import(study=study, stream=jsonl_bytes([line]))
    assert (error.value.line, error.value.field) == (1, field)


def test_a_five_thousand_digit_integer_names_its_field(study):
    line = json.dumps(judgment(time_taken_ms=1)).replace('"time_taken_ms": 1', '"time_taken_ms": ' + "9" * 5000)
    with pytest.raises(InputError, match="5000 digits") as error:
        import_judgment_text(study, line + "\n")
    assert (error.value.line, error.value.field) == (1, "time_taken_ms")


def test_deeply_nested_json_is_refused_not_crashed_on(study):
    deep = '{"annotator_id": "w1", "attributes": ' + "[" * 100_000 + "]" * 100_000 + "}"
    with pytest.raises(InputError, match="nested deeper") as error:
        import_judgment_text(study, json.dumps(judgment()) + "\n" + deep + "\n")
    assert error.value.line == 2


def test_moderately_nested_json_names_the_field(study):
    nested = judgment(attributes={"party": "D", "extra": json.loads("[" * 40 + "1" + "]" * 40)})
    with pytest.raises(InputError, match="nested deeper") as error:
        judgments_import(study=study, stream=jsonl_bytes([nested]))
    assert error.value.field.startswith("attributes.extra")


def test_a_bad_utf8_byte_reports_the_line_that_holds_it(study):
    good = (json.dumps(judgment(annotator_id="long-", rationale="x" * 200)) + "\n").encode()
    lines = [good.replace(b"long-", f"a{i}-".encode()) for i in range(400)]
    data = b"".join(lines) + b'{"annotator_id": "\xff"}\n'
    with pytest.raises(InputError, match="not UTF-8") as error:
        judgments_import(study=study, stream=io.BytesIO(data), source="j.jsonl")
    assert error.value.line == 401
    assert not Judgment.objects.exists()


@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_an_empty_judgment_file_is_refused(study, content):
    with pytest.raises(InputError, match="no judgments or ratings"):
        judgments_import(study=study, stream=io.BytesIO(content), source="j.jsonl")


# --- study files -----------------------------------------------------------------------------------------


def import_lines(lines):
    return study_import(jsonl_bytes(lines), source="study.jsonl")


def test_a_bad_utf8_byte_in_a_study_file_reports_its_line():
    text = "".join(json.dumps(line) + "\n" for line in study_lines(prompts=60)).encode()
    lines = text.splitlines(keepends=True)
    lines[50] = lines[50].replace(b"Question", b"Qu\xe9stion")
    with pytest.raises(InputError, match="not UTF-8") as error:
        study_import(io.BytesIO(b"".join(lines)), source="study.jsonl")
    assert error.value.line == 51
    assert not Study.objects.exists()


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,hi", "/relative", "ftp://x.org/",
                                 "https://", "https://a.org/ x"])
def test_a_completion_url_must_be_http_or_https(url):
    with pytest.raises(InputError, match="http") as error:
        import_lines(study_lines(completion_url=url))
    assert (error.value.line, error.value.field) == (1, "study.completion_url")


def test_an_https_completion_url_is_kept():
    url = "https://app.prolific.com/submissions/complete?cc={code}"
    assert import_lines(study_lines(completion_url=url)).study.completion_url == url


def test_a_candidate_text_over_the_limit_is_refused(settings):
    settings.PLURALWEB_MAX_TEXT_CHARS = 100
    lines = study_lines(prompts=2)
    lines[2]["candidates"][1]["text"] = "x" * 101
    with pytest.raises(InputError, match="at most 100 characters") as error:
        import_lines(lines)
    assert (error.value.line, error.value.field) == (3, "candidates[1].text")


def test_a_prompt_turn_over_the_limit_is_refused(settings):
    settings.PLURALWEB_MAX_TEXT_CHARS = 100
    lines = study_lines(prompts=1)
    lines[1]["turns"][0]["content"] = "y" * 101
    with pytest.raises(InputError, match="at most 100") as error:
        import_lines(lines)
    assert (error.value.line, error.value.field) == (2, "turns[0].content")


def test_too_many_candidates_for_one_prompt_are_refused(settings):
    settings.PLURALWEB_MAX_CANDIDATES_PER_PROMPT = 5
    with pytest.raises(InputError, match="at most 5 candidates") as error:
        import_lines(study_lines(prompts=1, candidates=6))
    assert (error.value.line, error.value.field) == (2, "candidates")


def test_all_pairs_beyond_the_study_limit_are_refused_before_any_pair_is_made(settings):
    settings.PLURALWEB_MAX_PAIRS_PER_STUDY = 10
    # `all` on 4 candidates is 6 pairs a prompt: the second prompt would make 12.
    with pytest.raises(InputError, match="more than 10 pairs") as error:
        import_lines(study_lines(prompts=2, candidates=4, strategy="all"))
    assert error.value.line == 3
    assert not Study.objects.exists()


def test_too_many_groups_are_refused(settings):
    settings.PLURALWEB_MAX_GROUPS = 8
    attributes = {f"a{i}": ["x", "y"] for i in range(4)}  # 16 groups
    with pytest.raises(InputError, match="more than 8 groups") as error:
        import_lines(study_lines(group_attributes=attributes))
    assert (error.value.line, error.value.field) == (1, "study.group_attributes")


def test_twenty_binary_attributes_are_refused_by_default():
    with pytest.raises(InputError, match="groups"):
        import_lines(study_lines(group_attributes={f"a{i}": ["x", "y"] for i in range(20)}))


@pytest.mark.parametrize(("change", "field"), [
    (lambda h: h["study"].update(title="T\x00"), "study.title"),
    (lambda h: h["study"].update(slug="s\x00"), "study.slug"),
    (lambda h: h["study"].update(consent="ok\x00"), "study.consent"),
    (lambda h: h["study"].update(group_attributes={"party": ["D\x00", "R"]}), "study.group_attributes.party[0]"),
])
def test_nul_characters_in_a_study_header_are_refused(change, field):
    lines = study_lines()
    change(lines[0])
    with pytest.raises(InputError, match="NUL") as error:
        import_lines(lines)
    assert (error.value.line, error.value.field) == (1, field)
