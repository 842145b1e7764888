"""The annotate page of a set study through Django's test client: the set as shown, the best required, the
ranking from the places given, replays, lapsed leases, skips (the browser test walks the same page in Chromium)."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone

from annotation.models import Assignment, Candidate, Judgment, SetJudgment, Skip, Slot
from annotation.set_assignment import set_next_for_annotator
from tests.factories import make_participant, make_study

pytestmark = pytest.mark.django_db


@pytest.fixture
def set_study(db):
    """Three prompts of four candidates: one set of 4 each, one judgment wanted per set, no groups."""
    return make_study(slug="sets", task="set", set_size=4, prompts=3, candidates=4, overlap=1, quota=3,
                      group_attributes={})


@pytest.fixture
def annotator(client, set_study, django_user_model):
    participant = make_participant(set_study, django_user_model.objects.create_user("set-ann"), external_id="set-ann")
    client.force_login(participant.user)
    return participant


def _cards(html: str) -> list[str]:
    return re.findall(r'class="set-card[^"]*" id="set-card-\d" data-number="\d" data-candidate="([^"]*)"', html)


def _fields(html: str) -> dict:
    return {name: re.search(rf'name="{name}" value="([^"]*)"', html).group(1)
            for name in ("assignment", "client_id", "set")}


def _external(pk: int) -> str:
    return Candidate.objects.get(pk=pk).external_id


def _shown(assignment_id) -> list[str]:
    return [_external(pk) for pk in Assignment.objects.get(pk=assignment_id).shown]


def _notice(html: str) -> str:
    return unescape(re.search(r'<p class="notice" role="status">([^<]*)</p>', html).group(1))


def test_a_set_study_shows_the_prompt_and_the_set_in_the_order_drawn_for_the_assignment(client, annotator):
    page = client.get("/s/sets/annotate/")
    html = page.content.decode()
    fields = _fields(html)
    assert page.status_code == 200 and "Which response is best?" in html
    assert _cards(html) == _shown(fields["assignment"])
    assert [f"Response {n}" for n in range(1, 5)] == re.findall(r"Response \d", html)[:4]
    assert html.count('name="best"') == 4 and html.count('name="best" value=') == 4 and " required" in html
    assert html.count('<select name="place"') == 4 and '<option value="4:' in html  # places 2..4
    assert "Question number" in html and 'name="choice"' not in html  # the prompt; no pair buttons
    assert "set_task.js" in html and "annotate.js" not in html
    assert "then press the others in order" in html  # the set's keyboard legend


def test_a_judgment_with_its_ranking_is_stored_once_and_the_next_set_swaps_in(client, annotator):
    html = client.get("/s/sets/annotate/").content.decode()
    fields = _fields(html)
    first, second, third, fourth = _cards(html)
    answer = client.post("/s/sets/judge/", {
        **fields, "best": third, "explanation": "It weighs both sides.", "time_taken_ms": "4200",
        "place": [f"3:{first}", f"2:{second}", "", f"3:{fourth}"],  # one per card, the best's is empty
    }, HTTP_HX_REQUEST="true")
    partial = answer.content.decode()
    assert answer.status_code == 200 and "<html" not in partial and 'value="1" max="3"' in partial
    assert _fields(partial)["set"] != fields["set"]

    judgment = SetJudgment.objects.get()
    ids = {_external(pk): pk for pk in judgment.shown}
    assert [_external(pk) for pk in judgment.shown] == [first, second, third, fourth]
    assert judgment.best_id == ids[third]
    assert judgment.ranking == [[ids[second]], [ids[first], ids[fourth]]]
    assert (judgment.explanation, judgment.time_taken_ms, judgment.client_id) == (
        "It weighs both sides.", 4200, fields["client_id"])
    # best over 3 others; second over the two below it; first and fourth tie
    rows = Judgment.objects.filter(set_judgment=judgment)
    assert rows.count() == 6 and rows.filter(implied=True).count() == 3 and rows.filter(choice="tie").count() == 1


def test_the_best_is_required(client, annotator):
    html = client.get("/s/sets/annotate/").content.decode()
    fields = _fields(html)
    answer = client.post("/s/sets/judge/", {**fields, "explanation": "kept for later",
                                            "place": ["", f"2:{_cards(html)[0]}", "", ""]}, HTTP_HX_REQUEST="true")
    partial = answer.content.decode()
    assert answer.status_code == 200 and not SetJudgment.objects.exists() and not Judgment.objects.exists()
    assert _notice(partial) == "Please check your answer and submit again."
    assert _fields(partial) == fields  # the same set, the same client id: nothing was stored under it
    assert ">kept for later</textarea>" in partial and f'value="2:{_cards(html)[0]}" selected' in partial


@pytest.mark.parametrize("places", [
    ["x:{0}", "", "", ""],  # a place that is no number
    ["123:{0}", "", "", ""],  # no set has that many places
    ["2:{0}", "", "", ""],  # the best ranked again
    ["2:no-such-candidate", "", "", ""],
    ["2:{1}", "3:{1}", "", ""],  # one response ranked twice
])
def test_a_ranking_the_set_cannot_have_is_refused_and_nothing_is_stored(client, annotator, places):
    html = client.get("/s/sets/annotate/").content.decode()
    cards = _cards(html)
    answer = client.post("/s/sets/judge/", {**_fields(html), "best": cards[0],
                                            "place": [p.format(*cards) for p in places]})
    assert answer.status_code == 400 and not SetJudgment.objects.exists()
    assert _notice(answer.content.decode()) == "Please check your answer and submit again."


def test_a_replayed_submit_records_one_set_judgment(client, annotator):
    html = client.get("/s/sets/annotate/").content.decode()
    body = {**_fields(html), "best": _cards(html)[1]}
    assert client.post("/s/sets/judge/", body, HTTP_HX_REQUEST="true").status_code == 200
    replay = client.post("/s/sets/judge/", body, HTTP_HX_REQUEST="true")
    assert replay.status_code == 200 and 'class="notice" role="status"' not in replay.content.decode()
    assert SetJudgment.objects.count() == 1 and Judgment.objects.count() == 3


def test_a_set_whose_lease_went_to_someone_else_is_refused_in_french_and_the_explanation_kept(
        client, db, django_user_model):
    study = make_study(slug="fr-sets", task="set", language="fr", prompts=2, candidates=4, overlap=1,
                       group_attributes={})
    holder = make_participant(study, django_user_model.objects.create_user("h"), external_id="h")
    client.force_login(holder.user)
    page = client.get("/s/fr-sets/annotate/")
    task = page.context["task"]
    assert "Quelle réponse est la meilleure ?" in page.content.decode()
    assignment = Assignment.objects.get(pk=task.assignment_id)
    Assignment.objects.filter(pk=assignment.pk).update(
        created_at=timezone.now() - timedelta(minutes=20), expires_at=timezone.now() - timedelta(minutes=10))
    Slot.objects.filter(pk=assignment.slot_id).update(lease_expires_at=timezone.now() - timedelta(minutes=10))
    taker = make_participant(study, django_user_model.objects.create_user("t"), external_id="t")
    assert set_next_for_annotator(participant=taker).set_id == task.set_id

    answer = client.post("/s/fr-sets/judge/", {
        "assignment": task.assignment_id, "set": task.set_id, "client_id": "k",
        "best": task.shown[0].external_id, "explanation": "la première est plus nuancée",
    })
    html = answer.content.decode()
    assert answer.status_code == 410 and not SetJudgment.objects.exists()
    assert _notice(html).startswith("Le temps prévu pour ce lot est écoulé")
    assert not re.search(r"\d", _notice(html))  # no assignment id, no raw ISO timestamp
    assert "la première est plus nuancée" in html and 'id="kept-answer"' in html
    assert answer.context["task"].set_id != task.set_id


def test_skipping_a_set_serves_the_next_one(client, annotator):
    html = client.get("/s/sets/annotate/").content.decode()
    fields = _fields(html)
    answer = client.post("/s/sets/skip/", {"assignment": fields["assignment"]}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200 and _fields(answer.content.decode())["set"] != fields["set"]
    assert Skip.objects.count() == 1 and not SetJudgment.objects.exists()


def test_renewing_a_set_lease_answers_the_seconds_left(client, annotator):
    fields = _fields(client.get("/s/sets/annotate/").content.decode())
    answer = client.post("/s/sets/renew/", {"assignment": fields["assignment"]})
    assert answer.status_code == 200 and 0 < answer.json()["expires_in_s"] <= 600


def test_the_last_set_ends_on_the_completion_page(client, annotator):
    html = client.get("/s/sets/annotate/").content.decode()
    for _ in range(3):
        answer = client.post("/s/sets/judge/", {**_fields(html), "best": _cards(html)[0]}, HTTP_HX_REQUEST="true")
        html = answer.content.decode()
    assert answer.status_code == 204 and answer["HX-Redirect"] == "/s/sets/done/"
    assert SetJudgment.objects.count() == 3
    assert "CODE-1" in client.get("/s/sets/done/").content.decode()


@pytest.mark.parametrize("field, value", [
    ("explanation", "nul\x00byte"), ("explanation", "x" * 20_000_000), ("best", "\x00"),
    ("place", "2:" + "y" * 5000), ("assignment", "9" * 40), ("time_taken_ms", "1e999"),
])
def test_hostile_set_forms_get_an_answer_not_a_server_error(client, annotator, field, value):
    html = client.get("/s/sets/annotate/").content.decode()
    body = {**_fields(html), "best": _cards(html)[0], field: value}
    answer = client.post("/s/sets/judge/", body)
    assert answer.status_code < 500
    if field != "time_taken_ms":  # a tampered time is dropped, the judgment kept
        assert not SetJudgment.objects.exists()


def test_an_answer_sent_before_min_view_ms_is_kept_and_filled_in_again(client, db, django_user_model):
    study = make_study(slug="slow-sets", task="set", prompts=1, candidates=4, overlap=1, group_attributes={},
                       min_view_ms=60_000)
    participant = make_participant(study, django_user_model.objects.create_user("slow"), external_id="slow")
    client.force_login(participant.user)
    html = client.get("/s/slow-sets/annotate/").content.decode()
    assert 'data-min-view-ms="60000"' in html and 'class="primary set-submit" data-hold' in html
    cards = _cards(html)
    answer = client.post("/s/slow-sets/judge/", {**_fields(html), "best": cards[1], "explanation": "too quick",
                                                 "place": ["2:" + cards[0], "", "", ""]})
    again = answer.content.decode()
    assert answer.status_code == 409 and not SetJudgment.objects.exists()
    assert _notice(again) == "Please read the responses a little longer, then submit again: your answer is kept."
    assert _fields(again) == _fields(html) and 'id="kept-answer"' not in again
    assert f'name="best" value="{cards[1]}" required checked' in again
    assert f'value="2:{cards[0]}" selected' in again and ">too quick</textarea>" in again


def test_a_set_study_skips_the_pair_practice(client, db, django_user_model):
    practice = [{"prompt": "Which is kinder?", "a": "Kind.", "b": "Curt.", "expected": "A", "feedback": ""}]
    study = make_study(slug="practised-sets", task="set", prompts=1, candidates=4, overlap=1, group_attributes={},
                       practice=practice)
    participant = make_participant(study, django_user_model.objects.create_user("p"), external_id="p")
    client.force_login(participant.user)
    page = client.get("/s/practised-sets/annotate/")
    assert page.status_code == 200 and "Which response is best?" in page.content.decode()
