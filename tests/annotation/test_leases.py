"""Leases never lose work: renewal while active, lapsed leases that still submit, and what the page
says when a submit truly cannot be accepted."""

import re
from datetime import timedelta
from html import unescape

import pytest
from django.utils import timezone

from annotation.assignment import assignments_expire, pair_next_for_annotator
from annotation.errors import Forbidden, Gone
from annotation.judgments import JudgmentInput, judgment_submit
from annotation.leases import assignment_renew
from annotation.models import Assignment, Judgment, Slot
from tests.factories import client_for, make_participant, make_study

pytestmark = pytest.mark.django_db


def submit(participant, assignment_id, now, client_id="c1", choice="A"):
    data = JudgmentInput(assignment_id=assignment_id, choice=choice, client_id=client_id)
    return judgment_submit(user=participant.user, data=data, now=now)


def test_renewing_extends_the_lease_and_its_slot_from_now(study, annotator_d):
    task = pair_next_for_annotator(participant=annotator_d)
    later = timezone.now() + timedelta(minutes=8)
    expires_at = assignment_renew(user=annotator_d.user, assignment_id=task.assignment_id, now=later)
    assert expires_at == later + timedelta(minutes=study.lease_minutes)
    assert Assignment.objects.get(pk=task.assignment_id).expires_at == expires_at
    assert Slot.objects.get(pk=task.slot_id).lease_expires_at == expires_at


def test_a_renewed_lease_is_not_taken_by_another_annotator(study, annotator_d, django_user_model):
    task = pair_next_for_annotator(participant=annotator_d)
    renewed_at = timezone.now() + timedelta(minutes=9)
    assignment_renew(user=annotator_d.user, assignment_id=task.assignment_id, now=renewed_at)
    other = make_participant(study, django_user_model.objects.create_user("d2"), party="D", external_id="d2")
    taken = pair_next_for_annotator(participant=other, now=renewed_at + timedelta(minutes=5))
    assert taken.slot_id != task.slot_id
    assert submit(annotator_d, task.assignment_id, renewed_at + timedelta(minutes=6)).created


def test_only_the_holder_may_renew_and_only_a_live_lease(study, annotator_d, annotator_r):
    task = pair_next_for_annotator(participant=annotator_d)
    with pytest.raises(Forbidden):
        assignment_renew(user=annotator_r.user, assignment_id=task.assignment_id)
    assignments_expire(now=task.expires_at + timedelta(seconds=1))
    with pytest.raises(Gone):
        assignment_renew(user=annotator_d.user, assignment_id=task.assignment_id)


def test_the_renew_api_answers_the_holder_only(study, annotator_d, annotator_r, api):
    task = pair_next_for_annotator(participant=annotator_d)
    url = f"/api/assignments/{task.assignment_id}/renew/"
    assert api.post(url).status_code in (401, 403)
    foreign = client_for(annotator_r.user).post(url)
    assert foreign.status_code == 403 and foreign.json()["code"] == "foreign_assignment"
    own = client_for(annotator_d.user).post(url)
    assert own.status_code == 200 and set(own.json()) == {"assignment_id", "lease_expires_at"}
    assert client_for(annotator_d.user).post("/api/assignments/987654/renew/").status_code == 404


def test_a_lapsed_lease_nobody_took_is_accepted(study, annotator_d):
    task = pair_next_for_annotator(participant=annotator_d)
    submission = submit(annotator_d, task.assignment_id, task.expires_at + timedelta(minutes=5))
    assert submission.created and submission.judgment.pair_id == task.pair_id
    assert Slot.objects.get(pk=task.slot_id).status == Slot.Status.DONE
    assert Assignment.objects.get(pk=task.assignment_id).status == Assignment.Status.JUDGED


def test_a_lease_ended_by_the_sweep_is_accepted_while_its_slot_is_free(study, annotator_d):
    task = pair_next_for_annotator(participant=annotator_d)
    after = task.expires_at + timedelta(seconds=1)
    assignments_expire(now=after)
    assert Slot.objects.get(pk=task.slot_id).status == Slot.Status.OPEN
    assert submit(annotator_d, task.assignment_id, after).created
    assert Slot.objects.get(pk=task.slot_id).status == Slot.Status.DONE
    assert Judgment.objects.get().assignment_id == task.assignment_id


def test_an_ended_lease_on_an_open_slot_keeps_the_group_cap(db, django_user_model):
    study = make_study(slug="cap", overlap=2, group_attributes={})  # two open slots per pair, no groups
    first = make_participant(study, django_user_model.objects.create_user("u1"), external_id="u1")
    task = pair_next_for_annotator(participant=first)
    assignments_expire(now=task.expires_at + timedelta(seconds=1))
    assert submit(first, task.assignment_id, task.expires_at + timedelta(seconds=2)).created
    assert Slot.objects.get(pk=task.slot_id).status == Slot.Status.DONE


def test_a_lease_whose_pair_came_back_to_them_is_refused_for_the_new_one(study, annotator_d):
    task = pair_next_for_annotator(participant=annotator_d)
    later = task.expires_at + timedelta(seconds=1)
    again = pair_next_for_annotator(participant=annotator_d, now=later)  # ends the lapsed lease, same pair
    assert again.pair_id == task.pair_id and again.assignment_id != task.assignment_id
    with pytest.raises(Gone):
        submit(annotator_d, task.assignment_id, later)
    assert submit(annotator_d, again.assignment_id, later, client_id="c2").created


def test_the_same_pair_never_comes_back_with_its_sides_swapped(study, annotator_d):
    task = pair_next_for_annotator(participant=annotator_d)
    now = task.expires_at
    for _ in range(12):  # each lapse hands the same pair back: the sides must hold every time
        now += timedelta(minutes=study.lease_minutes + 1)
        again = pair_next_for_annotator(participant=annotator_d, now=now)
        assert again.pair_id == task.pair_id
        assert (again.left.id, again.right.id) == (task.left.id, task.right.id)


def test_the_page_keeps_an_answer_it_could_not_record_and_says_why_in_french(client, db, django_user_model):
    study = make_study(slug="fr", language="fr", prompts=2, candidates=2, overlap=1, group_attributes={})
    holder = make_participant(study, django_user_model.objects.create_user("h"), external_id="h")
    client.force_login(holder.user)
    task = client.get("/s/fr/annotate/").context["task"]
    Assignment.objects.filter(pk=task.assignment_id).update(
        created_at=timezone.now() - timedelta(minutes=20), expires_at=timezone.now() - timedelta(minutes=10))
    Slot.objects.filter(pk=task.slot_id).update(lease_expires_at=timezone.now() - timedelta(minutes=10))
    taker = make_participant(study, django_user_model.objects.create_user("t"), external_id="t")
    assert pair_next_for_annotator(participant=taker).slot_id == task.slot_id
    answer = client.post("/s/fr/judge/", {
        "assignment": task.assignment_id, "pair": task.pair_id, "client_id": "k", "choice": "B",
        "strength": "clearly", "rationale": "la réponse B est plus nuancée",
    })
    html = answer.content.decode()
    assert answer.status_code == 410 and not Judgment.objects.exists()
    assert "Le temps prévu pour cette paire est écoulé" in html
    assert "B est meilleure" in html and "la réponse B est plus nuancée" in html
    notice = unescape(re.search(r'<p class="notice" role="status">([^<]*)</p>', html).group(1))
    assert not re.search(r"\d", notice)  # no assignment id, no raw ISO timestamp
    assert answer.context["task"].pair_id != task.pair_id
