"""Issue 13's two set formats at the REST API and the admin upload, the doors the pairwise format already had:
what goes in through the API comes back out through it, bad files are a 400 naming file, line and column with
nothing kept, and hostile bytes (NUL, a 20 MB cell, bad UTF-8) are a 400, never a 5xx."""

import csv
import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation.models import Conversation, Judgment, Participant, Prompt, SetJudgment
from tests.annotation.test_collective_alignment import PEOPLE, assess, record
from tests.annotation.test_community_alignment import COUNTRIES, conversation, csv_bytes
from tests.factories import client_for, jsonl_bytes, make_study

pytestmark = pytest.mark.django_db
IMPORT = "/api/studies/{}/judgments/import/"
EXPORT = "/api/studies/{}/export/"
TWENTY_MB = "x" * 20_000_000


def upload(name: str, data: bytes | io.BytesIO) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data.getvalue() if isinstance(data, io.BytesIO) else data)


def ca_upload(rows: list[dict], name: str = "ca.csv") -> SimpleUploadedFile:
    return upload(name, csv_bytes(rows))


def post_import(user, slug: str, **fields):
    return client_for(user).post(IMPORT.format(slug), fields, format="multipart")


def export_text(user, slug: str, **params) -> str:
    response = client_for(user).get(EXPORT.format(slug), params)
    assert response.status_code == 200, response.content[:500]
    return b"".join(response.streaming_content).decode()


@pytest.fixture
def ca_study():
    return make_study(slug="ca", prompts=1, group_attributes=COUNTRIES, task="set")


@pytest.fixture
def oa_study():
    return make_study(slug="oa", prompts=1, group_attributes={"country": ["US", "FR"]}, task="set")


def nothing_kept(study) -> bool:
    return (not SetJudgment.objects.filter(participant__study=study).exists()
            and not Conversation.objects.filter(study=study).exists()
            and not Prompt.objects.filter(study=study, source__in=["community-alignment", "collective-alignment"])
            .exists()
            and not Participant.objects.filter(study=study).exists())


# --- round trips -------------------------------------------------------------------------------------------


def test_a_community_alignment_file_goes_in_and_comes_out_through_the_api(ca_study, admin_user, researcher):
    rows = [conversation("c1", "w1", turns=3, preferred="response_c"),
            conversation("c2", "w2", country="IN", turns=1, pregenerated="False")]
    response = post_import(admin_user, "ca", file=ca_upload(rows), format="community-alignment")
    assert response.status_code == 201
    assert response.json() == {"prompts": 4, "candidates": 16, "sets": 4, "set_judgments": 4, "comparisons": 12,
                               "participants": 2, "conversations": 2}
    exported = export_text(researcher, "ca", format="community-alignment")
    got = {row["conversation_id"]: row for row in csv.DictReader(io.StringIO(exported))}
    for row in rows:
        assert got[row["conversation_id"]] == row

    again = make_study(slug="ca2", prompts=1, group_attributes=COUNTRIES, task="set")
    back = post_import(admin_user, "ca2", file=upload("back.csv", exported.encode()), format="community-alignment")
    assert back.status_code == 201 and back.json()["set_judgments"] == 4
    assert export_text(researcher, again.slug, format="community-alignment") == exported


def test_the_community_alignment_download_names_its_type_and_file(ca_study, admin_user, researcher):
    post_import(admin_user, "ca", file=ca_upload([conversation("c1", "w1")]), format="community-alignment")
    response = client_for(researcher).get(EXPORT.format("ca"), {"format": "community-alignment"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="ca-community-alignment.csv"'


def test_a_collective_alignment_file_and_its_annotators_go_in_and_come_out(oa_study, admin_user, researcher):
    records = [record("p1", assess("u1", "B>A=C>D", "first"), assess("u2", "C>D", "")),
               record("p2", assess("u2", "A>B", "short"), n=3)]
    response = post_import(admin_user, "oa", file=upload("c.jsonl", jsonl_bytes(records)),
                           format="collective-alignment", annotators=upload("a.jsonl", jsonl_bytes(PEOPLE)))
    assert response.status_code == 201
    assert (response.json()["set_judgments"], response.json()["participants"]) == (3, 2)
    comparisons = export_text(researcher, "oa", format="collective-alignment")
    people = export_text(researcher, "oa", format="collective-alignment", part="annotators")
    assert [json.loads(line)["prompt_id"] for line in comparisons.splitlines()] == ["p1", "p2"]
    assert [json.loads(line)["annotator_id"] for line in people.splitlines()] == ["u1", "u2"]
    assert json.loads(people.splitlines()[0])["country"] == "US"

    make_study(slug="oa2", prompts=1, group_attributes={"country": ["US", "FR"]}, task="set")
    back = post_import(admin_user, "oa2", file=upload("c.jsonl", comparisons.encode()),
                       format="collective-alignment", annotators=upload("a.jsonl", people.encode()))
    assert back.status_code == 201
    assert export_text(researcher, "oa2", format="collective-alignment") == comparisons
    assert export_text(researcher, "oa2", format="collective-alignment", part="annotators") == people


def test_the_annotators_download_is_a_jsonl_file_of_its_own(oa_study, admin_user, researcher):
    post_import(admin_user, "oa", file=upload("c.jsonl", jsonl_bytes([record("p1", assess("u1", "A"))])),
                format="collective-alignment", annotators=upload("a.jsonl", jsonl_bytes(PEOPLE)))
    response = client_for(researcher).get(EXPORT.format("oa"), {"format": "collective-alignment",
                                                               "part": "annotators"})
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="oa-collective-alignment-annotators.jsonl"'


def test_annotators_already_in_the_study_need_no_annotators_file(oa_study, admin_user):
    first = post_import(admin_user, "oa", file=upload("c.jsonl", jsonl_bytes([record("p1", assess("u1", "A"))])),
                        format="collective-alignment", annotators=upload("a.jsonl", jsonl_bytes(PEOPLE)))
    assert first.status_code == 201
    second = post_import(admin_user, "oa", file=upload("d.jsonl", jsonl_bytes([record("p2", assess("u1", "B"))])),
                         format="collective-alignment")
    assert second.status_code == 201 and second.json()["participants"] == 0


def test_without_a_format_the_import_is_the_pairwise_jsonl_it_always_was(study, admin_user):
    line = {"annotator_id": "w", "attributes": {"party": "D"}, "prompt_id": "p0", "a": "p0c0", "b": "p0c1",
            "choice": "tie"}
    response = post_import(admin_user, "s1", file=upload("j.jsonl", jsonl_bytes([line])))
    assert response.status_code == 201
    assert response.json() == {"judgments": 1, "ratings": 0, "from_ratings": 0, "participants": 1,
                               "pairs_created": 0}
    line2 = {**line, "annotator_id": "w2"}
    explicit = post_import(admin_user, "s1", file=upload("j.jsonl", jsonl_bytes([line2])), format="jsonl")
    assert explicit.status_code == 201 and explicit.json()["judgments"] == 1


def test_the_pairwise_exports_are_unchanged_by_the_new_formats(study, researcher):
    response = client_for(researcher).get(EXPORT.format("s1"), {"format": "csv"})
    assert response["Content-Disposition"] == 'attachment; filename="s1-judgments.csv"'
    assert client_for(researcher).get(EXPORT.format("s1"))["Content-Type"] == "application/x-ndjson; charset=utf-8"


# --- refusals ----------------------------------------------------------------------------------------------


def test_a_bad_cell_is_a_400_naming_file_line_and_column_and_nothing_is_kept(ca_study, admin_user):
    rows = [conversation("c1", "w1"), conversation("c2", "w2", first_turn_preferred_response="response_e")]
    response = post_import(admin_user, "ca", file=ca_upload(rows), format="community-alignment")
    assert response.status_code == 400
    body = response.json()
    # The first row spans lines 2-4 (its two prompts hold a newline each): the second starts on line 5.
    assert (body["source"], body["line"], body["field"]) == ("ca.csv", 5, "first_turn_preferred_response")
    assert body["detail"].startswith("ca.csv:5: field 'first_turn_preferred_response'")
    assert nothing_kept(ca_study)


@pytest.mark.parametrize("fmt", ["community_alignment", "CSV", "csv", ""])
def test_an_unknown_import_format_is_a_400_naming_the_field(ca_study, admin_user, fmt):
    response = post_import(admin_user, "ca", file=ca_upload([conversation("c1", "w1")]), format=fmt)
    assert response.status_code == 400 and response.json()["field"] == "format"
    assert "community-alignment" in response.json()["detail"]
    assert nothing_kept(ca_study)


def test_an_annotators_file_with_another_format_is_a_400(ca_study, admin_user):
    response = post_import(admin_user, "ca", file=ca_upload([conversation("c1", "w1")]),
                           format="community-alignment", annotators=upload("a.jsonl", jsonl_bytes(PEOPLE)))
    assert response.status_code == 400 and response.json()["field"] == "annotators"
    assert nothing_kept(ca_study)


def test_an_annotator_missing_from_the_annotators_file_is_a_400_and_nothing_is_kept(oa_study, admin_user):
    records = [record("p1", assess("u1", "A")), record("p2", assess("u3", "B"))]
    response = post_import(admin_user, "oa", file=upload("c.jsonl", jsonl_bytes(records)),
                           format="collective-alignment", annotators=upload("a.jsonl", jsonl_bytes(PEOPLE)))
    assert response.status_code == 400
    body = response.json()
    assert (body["source"], body["line"], body["field"]) == ("c.jsonl", 2, "assessments[0].annotator_id")
    assert "'u3' is not in the annotators file" in body["detail"]
    assert nothing_kept(oa_study)


def test_a_bad_annotators_line_names_the_annotators_file(oa_study, admin_user):
    response = post_import(admin_user, "oa", file=upload("c.jsonl", jsonl_bytes([record("p1", assess("u1", "A"))])),
                           format="collective-alignment",
                           annotators=upload("people.jsonl", jsonl_bytes([PEOPLE[0], {"country": "US"}])))
    assert response.status_code == 400
    assert (response.json()["source"], response.json()["line"], response.json()["field"]) == (
        "people.jsonl", 2, "annotator_id")
    assert nothing_kept(oa_study)


def test_an_annotators_text_field_instead_of_a_file_is_a_400(oa_study, admin_user):
    response = post_import(admin_user, "oa", file=upload("c.jsonl", jsonl_bytes([record("p1")])),
                           format="collective-alignment", annotators="u1")
    assert response.status_code == 400 and response.json()["field"] == "annotators"


def test_researchers_and_annotators_cannot_import_a_set_file(ca_study, researcher, django_user_model):
    annotator = django_user_model.objects.create_user("someone")
    for user in (researcher, annotator):
        response = post_import(user, "ca", file=ca_upload([conversation("c1", "w1")]), format="community-alignment")
        assert response.status_code == 403
    assert nothing_kept(ca_study)


@pytest.mark.parametrize(("params", "field"), [
    ({"format": "xlsx"}, "format"),
    ({"format": "csv", "part": "annotators"}, "part"),
    ({"format": "community-alignment", "part": "annotators"}, "part"),
    ({"format": "collective-alignment", "part": "people"}, "part"),
])
def test_a_bad_export_format_or_part_is_a_400_naming_it(ca_study, researcher, params, field):
    response = client_for(researcher).get(EXPORT.format("ca"), params)
    assert response.status_code == 400 and response.json()["field"] == field


def test_sets_of_three_cannot_be_exported_as_community_alignment_and_say_so_before_streaming(
        oa_study, admin_user, researcher):
    post_import(admin_user, "oa", file=upload("c.jsonl", jsonl_bytes([record("p1", assess("u1", "A"), n=3)])),
                format="collective-alignment", annotators=upload("a.jsonl", jsonl_bytes(PEOPLE)))
    response = client_for(researcher).get(EXPORT.format("oa"), {"format": "community-alignment"})
    assert response.status_code == 400 and response.json()["field"] == "set_size"
    assert "shows 3 responses" in response.json()["detail"]


# --- hostile input -----------------------------------------------------------------------------------------


def test_a_nul_byte_in_a_community_alignment_cell_is_a_400_naming_the_column(ca_study, admin_user):
    rows = [conversation("c1", "w1", first_turn_response_b="bad \x00 byte")]
    response = post_import(admin_user, "ca", file=ca_upload(rows), format="community-alignment")
    assert response.status_code == 400
    assert (response.json()["line"], response.json()["field"]) == (2, "first_turn_response_b")
    assert nothing_kept(ca_study)


def test_a_nul_byte_in_an_annotators_file_is_a_400(oa_study, admin_user):
    people = [{"annotator_id": "u1", "country": "U\x00S"}]
    response = post_import(admin_user, "oa", file=upload("c.jsonl", jsonl_bytes([record("p1", assess("u1", "A"))])),
                           format="collective-alignment", annotators=upload("a.jsonl", jsonl_bytes(people)))
    assert response.status_code == 400 and response.json()["source"] == "a.jsonl"
    assert nothing_kept(oa_study)


def test_a_20_mb_community_alignment_cell_is_a_400_with_its_line(ca_study, admin_user):
    rows = [conversation("c1", "w1", first_turn_response_a=TWENTY_MB)]
    response = post_import(admin_user, "ca", file=ca_upload(rows), format="community-alignment")
    assert response.status_code == 400 and response.json()["line"] == 2
    assert nothing_kept(ca_study)


def test_a_20_mb_rationale_in_a_collective_alignment_file_is_a_400_naming_it(oa_study, admin_user):
    records = [record("p1", assess("u1", "A", rationale=TWENTY_MB))]
    response = post_import(admin_user, "oa", file=upload("c.jsonl", jsonl_bytes(records)),
                           format="collective-alignment", annotators=upload("a.jsonl", jsonl_bytes(PEOPLE)))
    assert response.status_code == 400
    assert (response.json()["line"], response.json()["field"]) == (1, "assessments[0].rationale")
    assert nothing_kept(oa_study)


@pytest.mark.parametrize(("fmt", "data"), [
    ("community-alignment", csv_bytes([conversation("c1", "w1")]).getvalue().replace(b"answer a", b"answer \xff\xfe")),
    ("collective-alignment", jsonl_bytes([record("p1")]).getvalue().replace(b"answer A", b"answer \xc3\x28")),
])
def test_bad_utf8_is_a_400_naming_the_file(ca_study, oa_study, admin_user, fmt, data):
    slug = "ca" if fmt == "community-alignment" else "oa"
    response = post_import(admin_user, slug, file=upload("bad.bin", data), format=fmt)
    assert response.status_code == 400
    assert response.json()["source"] == "bad.bin" and "UTF-8" in response.json()["detail"]
    assert not SetJudgment.objects.exists()


def test_a_set_upload_over_the_request_limit_is_a_413(ca_study, admin_user, settings):
    settings.PLURALWEB_MAX_REQUEST_BYTES = 4096
    rows = [conversation(f"c{i}", "w1") for i in range(20)]
    response = post_import(admin_user, "ca", file=ca_upload(rows), format="community-alignment")
    assert response.status_code == 413 and response.json()["code"] == "too_large"


# --- the admin upload page ---------------------------------------------------------------------------------


@pytest.fixture
def admin_page(client, admin_user):
    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    client.force_login(admin_user)
    return client


def test_the_admin_upload_imports_a_community_alignment_file(admin_page, ca_study):
    url = f"/admin/annotation/study/{ca_study.pk}/import-judgments/"
    assert 'value="community-alignment"' in admin_page.get(url).content.decode()
    response = admin_page.post(url, {"file": ca_upload([conversation("c1", "w1")]), "format": "community-alignment"},
                               follow=True)
    page = response.content.decode()
    assert "Imported into ca: 2 set judgments (6 pairwise comparisons)" in page
    assert SetJudgment.objects.filter(participant__study=ca_study).count() == 2
    assert Judgment.objects.filter(participant__study=ca_study, origin="set").count() == 6


def test_the_admin_upload_reports_a_bad_cell_with_line_and_column(admin_page, ca_study):
    url = f"/admin/annotation/study/{ca_study.pk}/import-judgments/"
    rows = [conversation("c1", "w1", first_turn_response_c="")]
    page = admin_page.post(url, {"file": ca_upload(rows), "format": "community-alignment"}).content.decode()
    assert "ca.csv:2: field &#x27;first_turn_response_c&#x27;" in page
    assert nothing_kept(ca_study)


def test_the_admin_upload_takes_the_annotators_file_and_refuses_it_with_another_format(admin_page, oa_study):
    url = f"/admin/annotation/study/{oa_study.pk}/import-judgments/"
    comparisons = jsonl_bytes([record("p1", assess("u1", "B>A"))])
    wrong = admin_page.post(url, {"file": upload("c.jsonl", comparisons), "format": "jsonl",
                                  "annotators": upload("a.jsonl", jsonl_bytes(PEOPLE))})
    assert wrong.status_code == 200 and "annotators" in wrong.context["form"].errors
    assert nothing_kept(oa_study)
    done = admin_page.post(url, {"file": upload("c.jsonl", comparisons), "format": "collective-alignment",
                                 "annotators": upload("a.jsonl", jsonl_bytes(PEOPLE))}, follow=True)
    assert "1 set judgments (5 pairwise comparisons)" in done.content.decode()
    assert Participant.objects.get(study=oa_study, external_id="u1").attributes["country"] == "US"
