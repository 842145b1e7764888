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
