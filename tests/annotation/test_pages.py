"""The annotator pages through Django's test client (the browser test walks the same path in Chromium)."""

import re

import pytest

from annotation.models import Judgment, Participant
from tests.factories import make_study

pytestmark = pytest.mark.django_db


def test_the_join_link_records_crowd_ids_and_asks_for_consent(client, study):
    page = client.get("/s/s1/?PROLIFIC_PID=abc123&STUDY_ID=st9&SESSION_ID=se1")
    assert page.status_code == 200 and b"I agree to the terms." in page.content
    refused = client.post("/s/s1/", {})
    assert refused.status_code == 400
    assert client.get("/s/s1/profile/").status_code == 302  # no consent yet
    assert client.post("/s/s1/", {"consent": "yes"})["Location"] == "/s/s1/profile/"
    profile = client.get("/s/s1/profile/")
    assert b'name="party"' in profile.content
    assert client.post("/s/s1/profile/", {"party": "Z"}).status_code == 400
    assert client.post("/s/s1/profile/", {"party": "R"})["Location"] == "/s/s1/annotate/"
    participant = Participant.objects.get()
    assert participant.external_id == "abc123" and participant.group_key == "party=R"
    assert participant.crowd_params == {"PROLIFIC_PID": "abc123", "STUDY_ID": "st9", "SESSION_ID": "se1"}


def _joined(client, slug="s1", party="D"):
    client.post(f"/s/{slug}/", {"consent": "yes"})
    client.post(f"/s/{slug}/profile/", {"party": party})


def _task_fields(html: str) -> dict:
    return {name: re.search(rf'name="{name}" value="([^"]*)"', html).group(1) for name in ("assignment", "client_id")}


def test_annotating_swaps_in_the_next_pair_and_ends_on_the_completion_page(client, db):
    make_study(slug="q2", quota=2)
    _joined(client, "q2")
    page = client.get("/s/q2/annotate/").content.decode()
    assert 'id="progress" value="0" max="2"' in page and "Keyboard" in page
    fields = _task_fields(page)
    partial = client.post("/s/q2/judge/", {**fields, "choice": "A", "strength": "clearly"}, HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert partial.status_code == 200 and "<html" not in html and 'value="1" max="2"' in html
    replay = client.post("/s/q2/judge/", {**fields, "choice": "B"}, HTTP_HX_REQUEST="true")
    assert replay.status_code == 200 and Judgment.objects.count() == 1
    last = client.post("/s/q2/judge/", {**_task_fields(html), "choice": "tie"}, HTTP_HX_REQUEST="true")
    assert last.status_code == 204 and last["HX-Redirect"] == "/s/q2/done/"
    done = client.get("/s/q2/done/").content.decode()
    assert "CODE-1" in done and "You completed 2 comparisons" in done
    assert list(Judgment.objects.order_by("id").values_list("choice", "strength")) == [("A", "clearly"), ("tie", "")]


def test_a_study_in_french_speaks_french(client, db):
    make_study(slug="fr", language="fr")
    page = client.get("/s/fr/").content.decode()
    assert "Consentement" in page and 'lang="fr"' in page
    _joined(client, "fr")
    assert "Réponse A" in client.get("/s/fr/annotate/").content.decode()


def test_pages_need_a_participant_and_a_known_study(client, study):
    assert client.get("/s/s1/annotate/")["Location"] == "/s/s1/"
    assert client.post("/s/s1/judge/", {"choice": "A"}).status_code == 403
    assert client.get("/s/unknown/").status_code == 404


def test_a_closed_study_takes_no_new_annotators(client, study):
    study.is_open = False
    study.save(update_fields=["is_open"])
    assert "closed" in client.get("/s/s1/").content.decode()


@pytest.mark.parametrize("path", [
    "/admin/annotation/study/", "/admin/annotation/prompt/", "/admin/annotation/candidate/",
    "/admin/annotation/participant/", "/admin/annotation/pair/", "/admin/annotation/slot/",
    "/admin/annotation/assignment/", "/admin/annotation/judgment/", "/admin/annotation/rating/",
    "/admin/alignment/textembedding/", "/admin/annotation/study/import/",
])
def test_the_django_admin_lists_every_model_with_search(client, study, admin_user, path):
    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    client.force_login(admin_user)
    response = client.get(path + ("?q=p0" if not path.endswith("import/") else ""))
    assert response.status_code == 200


def test_the_admin_upload_imports_a_study_file_and_reports_bad_lines(client, admin_user):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from annotation.models import Study
    from tests.factories import jsonl_bytes, study_lines

    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    client.force_login(admin_user)
    bad = study_lines(slug="up")
    del bad[1]["turns"]
    response = client.post("/admin/annotation/study/import/",
                           {"file": SimpleUploadedFile("up.jsonl", jsonl_bytes(bad).getvalue())})
    assert "up.jsonl:2: field &#x27;turns&#x27;: is required" in response.content.decode()
    assert not Study.objects.filter(slug="up").exists()
    good = SimpleUploadedFile("up.jsonl", jsonl_bytes(study_lines(slug="up")).getvalue())
    assert client.post("/admin/annotation/study/import/", {"file": good}).status_code == 302
    assert Study.objects.filter(slug="up").exists()


def test_researchers_may_view_but_not_change_in_the_admin(client, study, researcher):
    researcher.is_staff = True
    researcher.save(update_fields=["is_staff"])
    client.force_login(researcher)
    assert client.get("/admin/annotation/judgment/").status_code == 200
    assert client.get(f"/admin/annotation/study/{study.pk}/change/").status_code == 200  # view-only page
    assert client.post(f"/admin/annotation/study/{study.pk}/change/", {"title": "x"}).status_code == 403
    assert client.get("/admin/annotation/study/import/").status_code == 403
