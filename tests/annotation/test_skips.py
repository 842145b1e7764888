"""Skips: a pair an annotator cannot judge goes back to the pool, is recorded, never comes back to them,
and is not a judgment."""

import pytest

from annotation.assignment import pair_next_for_annotator, participant_progress
from annotation.errors import Conflict, Forbidden
from annotation.leases import assignment_skip
from annotation.models import Assignment, Judgment, Skip, Slot
from tests.factories import client_for, make_participant, make_study

pytestmark = pytest.mark.django_db


def test_a_skip_releases_the_slot_and_is_recorded_but_not_counted(study, annotator_d):
    task = pair_next_for_annotator(participant=annotator_d)
    skip = assignment_skip(user=annotator_d.user, assignment_id=task.assignment_id)
    assert (skip.participant_id, skip.pair_id, skip.assignment_id) == (annotator_d.pk, task.pair_id, task.assignment_id)
    slot = Slot.objects.get(pk=task.slot_id)
    assert (slot.status, slot.lease_expires_at, slot.open_group) == (Slot.Status.OPEN, None, "")
    assert Assignment.objects.get(pk=task.assignment_id).status == Assignment.Status.SKIPPED
    assert participant_progress(participant=annotator_d).done == 0 and not Judgment.objects.exists()


def test_a_skipped_pair_is_never_served_to_them_again_but_goes_to_others(db, django_user_model):
    study = make_study(slug="one", prompts=1, candidates=2, overlap=1, group_attributes={})
    first = make_participant(study, django_user_model.objects.create_user("f"), external_id="f")
    second = make_participant(study, django_user_model.objects.create_user("s"), external_id="s")
    task = pair_next_for_annotator(participant=first)
    assignment_skip(user=first.user, assignment_id=task.assignment_id)
    assert pair_next_for_annotator(participant=first) is None
    assert pair_next_for_annotator(participant=second).slot_id == task.slot_id


def test_a_skip_is_for_the_holder_of_a_live_lease_only(study, annotator_d, annotator_r):
    task = pair_next_for_annotator(participant=annotator_d)
    with pytest.raises(Forbidden):
        assignment_skip(user=annotator_r.user, assignment_id=task.assignment_id)
    assignment_skip(user=annotator_d.user, assignment_id=task.assignment_id)
    with pytest.raises(Conflict):
        assignment_skip(user=annotator_d.user, assignment_id=task.assignment_id)
    assert Skip.objects.count() == 1


def test_a_skipped_assignment_cannot_be_judged_afterwards(study, annotator_d):
    api = client_for(annotator_d.user)
    task = api.post("/api/studies/s1/next/").json()
    skipped = api.post(f"/api/assignments/{task['assignment_id']}/skip/")
    assert skipped.status_code == 200 and skipped.json()["assignment_id"] == task["assignment_id"]
    late = api.post("/api/judgments/", {"assignment": task["assignment_id"], "choice": "A", "client_id": "z"},
                    format="json")
    assert late.status_code == 409 and late.json()["code"] == "skipped"
    assert api.post("/api/studies/s1/next/").json()["assignment_id"] != task["assignment_id"]


def test_the_page_skips_and_shows_the_next_pair(client, study, annotator_d):
    client.force_login(annotator_d.user)
    task = client.get("/s/s1/annotate/").context["task"]
    answer = client.post("/s/s1/skip/", {"assignment": task.assignment_id}, HTTP_HX_REQUEST="true")
    assert answer.status_code == 200 and answer.context["task"].pair_id != task.pair_id
    assert 'id="skip"' in answer.content.decode()
    assert Skip.objects.get().pair_id == task.pair_id


def test_the_admin_lists_skips(client, study, annotator_d, admin_user):
    task = pair_next_for_annotator(participant=annotator_d)
    assignment_skip(user=annotator_d.user, assignment_id=task.assignment_id)
    admin_user.is_staff = True
    admin_user.save(update_fields=["is_staff"])
    client.force_login(admin_user)
    page = client.get("/admin/annotation/skip/?q=ann")
    assert page.status_code == 200 and annotator_d.external_id in page.content.decode()
