"""Returning participants: the same crowd id in a new browser continues as that participant."""

import pytest
from django.test import Client

from annotation.models import Judgment, Participant
from tests.factories import make_study

pytestmark = pytest.mark.django_db


def _join_by_link(client: Client, slug: str, pid: str, party: str = "D") -> None:
    client.get(f"/s/{slug}/?PROLIFIC_PID={pid}&STUDY_ID=st1")
    client.post(f"/s/{slug}/", {"consent": "yes"})
    assert client.post(f"/s/{slug}/profile/", {"party": party})["Location"] == f"/s/{slug}/annotate/"


def test_the_same_crowd_id_in_a_new_browser_continues_on_the_same_pair(study):
    first = Client()
    _join_by_link(first, "s1", "pid-1")
    task = first.get("/s/s1/annotate/").context["task"]

    second = Client()  # another device: no session, no cookie
    answer = second.get("/s/s1/?PROLIFIC_PID=pid-1")
    assert answer.status_code == 302 and answer["Location"] == "/s/s1/annotate/"
    resumed = second.get("/s/s1/annotate/")
    assert resumed.context["task"].assignment_id == task.assignment_id
    assert Participant.objects.count() == 1


def test_a_returning_participant_who_finished_sees_the_completion_code_again(db):
    make_study(slug="q1", quota=1)
    first = Client()
    _join_by_link(first, "q1", "pid-2")
    task = first.get("/s/q1/annotate/").context["task"]
    first.post("/s/q1/judge/", {"assignment": task.assignment_id, "client_id": "c1", "choice": "A"})
    assert Judgment.objects.count() == 1

    second = Client()
    page = second.get("/s/q1/?PROLIFIC_PID=pid-2", follow=True)
    assert page.redirect_chain[-1][0] == "/s/q1/done/"
    assert "CODE-1" in page.content.decode()


def test_an_id_given_to_the_api_join_resumes_by_link_but_a_username_does_not(study, api_joined):
    returning = Client()
    page = returning.get(f"/s/s1/?PROLIFIC_PID={api_joined.external_id}")
    assert page.status_code == 302 and int(returning.session["_auth_user_id"]) == api_joined.user_id
    stranger = Client()
    username = stranger.get(f"/s/s1/?workerId={api_joined.user.username}")
    assert username.status_code == 200 and b'id="consent"' in username.content
    assert "_auth_user_id" not in stranger.session


def test_a_signed_in_researcher_is_not_swapped_for_the_participant(study, researcher):
    _join_by_link(Client(), "s1", "pid-3")
    client = Client()
    client.force_login(researcher)
    page = client.get("/s/s1/?PROLIFIC_PID=pid-3")
    assert page.status_code == 200 and int(client.session["_auth_user_id"]) == researcher.pk


def test_a_second_device_that_reaches_the_profile_form_resumes_too(study):
    first, second = Client(), Client()
    second.get("/s/s1/?PROLIFIC_PID=pid-4")
    second.post("/s/s1/", {"consent": "yes"})
    _join_by_link(first, "s1", "pid-4")  # joins while the second device is on the profile form
    answer = second.post("/s/s1/profile/", {"party": "R"})
    assert answer["Location"] == "/s/s1/annotate/"
    assert Participant.objects.get().group_key == "party=D"


def test_the_api_join_of_a_crowd_id_joined_by_link_answers_as_a_new_join_would(study, api):
    _join_by_link(Client(), "s1", "pid-5")
    answer = api.post("/api/studies/s1/join/", {"consent": True, "attributes": {"party": "R"},
                                                  "external_id": "pid-5"}, format="json")
    fresh = api.post("/api/studies/s1/join/", {"consent": True, "attributes": {"party": "R"},
                                                 "external_id": "pid-6"}, format="json")
    assert answer.status_code == fresh.status_code == 201
    assert set(answer.json()) == set(fresh.json())
    joined = Participant.objects.get(external_id="pid-5")
    assert answer.json()["participant_id"] == joined.pk and answer.json()["group"] == "party=D"
    assert Participant.objects.count() == 2


@pytest.fixture
def api_joined(api, study):
    answer = api.post("/api/studies/s1/join/", {"consent": True, "attributes": {"party": "R"},
                                                  "external_id": "api-7"}, format="json")
    assert answer.status_code == 201
    return Participant.objects.get(external_id="api-7")
