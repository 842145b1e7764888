from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.assignment import pair_next_for_annotator
from annotation.errors import Conflict, Forbidden, Gone, InputError, NotFound
from annotation.judgments import JudgmentInput, judgment_submit
from annotation.models import Assignment, Judgment, Slot
from tests.factories import make_participant

pytestmark = pytest.mark.django_db


def submit(participant, assignment_id, client_id="c1", choice="A", **kwargs):
    data = JudgmentInput(assignment_id=assignment_id, choice=choice, client_id=client_id, **kwargs)
    return judgment_submit(user=participant.user, data=data)


def test_a_judgment_is_stored_with_the_choice_as_shown(study, annotator_d):
    lease = pair_next_for_annotator(participant=annotator_d)
    submission = submit(annotator_d, lease.assignment_id, choice="B", strength="clearly", rationale=" why ")
    judgment = submission.judgment
    assert submission.created and (submission.progress.done, submission.progress.quota) == (1, 20)
    stored = Assignment.objects.select_related("pair").get(pk=lease.assignment_id)
    pair = stored.pair
    shown = (pair.candidate_b_id, pair.candidate_a_id) if stored.swapped else (pair.candidate_a_id, pair.candidate_b_id)
    assert (lease.left.id, lease.right.id) == shown
    assert (judgment.candidate_a_id, judgment.candidate_b_id) == shown
    assert (judgment.choice, judgment.strength, judgment.rationale, judgment.group_key) == (
        "B", "clearly", "why", "party=D")
    assert Slot.objects.get(pk=lease.slot_id).status == Slot.Status.DONE


def test_replaying_a_client_id_returns_the_stored_judgment(study, annotator_d):
    lease = pair_next_for_annotator(participant=annotator_d)
    first = submit(annotator_d, lease.assignment_id, choice="A")
    again = submit(annotator_d, lease.assignment_id, choice="B")
    assert first.created and not again.created
    assert again.judgment.pk == first.judgment.pk and again.judgment.choice == "A"
    assert again.progress.done == 1
    assert Judgment.objects.count() == 1


def test_a_client_id_of_another_annotator_is_refused(study, annotator_d, annotator_r):
    submit(annotator_d, pair_next_for_annotator(participant=annotator_d).assignment_id, client_id="shared")
    with pytest.raises(Conflict):
        submit(annotator_r, pair_next_for_annotator(participant=annotator_r).assignment_id, client_id="shared")


def test_a_judged_assignment_is_never_overwritten(study, annotator_d):
    lease = pair_next_for_annotator(participant=annotator_d)
    submit(annotator_d, lease.assignment_id, client_id="first", choice="A")
    with pytest.raises(Conflict, match="never overwritten"):
        submit(annotator_d, lease.assignment_id, client_id="second", choice="B")
    assert list(Judgment.objects.values_list("choice", flat=True)) == ["A"]


def test_a_lease_taken_over_by_someone_else_is_refused(study, annotator_d, django_user_model):
    lease = pair_next_for_annotator(participant=annotator_d)
    later = timezone.now() + timedelta(minutes=11)
    other_d = make_participant(study, django_user_model.objects.create_user("ann-d2"), party="D",
                               external_id="ann-d2")
    taken = pair_next_for_annotator(participant=other_d, now=later)
    assert taken.slot_id == lease.slot_id
    with pytest.raises(Gone, match="expired"):
        judgment_submit(
            user=annotator_d.user,
            data=JudgmentInput(assignment_id=lease.assignment_id, choice="A", client_id="late"),
            now=later,
        )
    assert Assignment.objects.get(pk=lease.assignment_id).status == Assignment.Status.EXPIRED
    assert Slot.objects.get(pk=lease.slot_id).status == Slot.Status.LEASED
    assert not Judgment.objects.exists()


def test_a_foreign_assignment_is_refused(study, annotator_d, annotator_r):
    lease = pair_next_for_annotator(participant=annotator_d)
    with pytest.raises(Forbidden, match="another annotator"):
        submit(annotator_r, lease.assignment_id)


def test_an_unknown_assignment_is_refused(study, annotator_d):
    with pytest.raises(NotFound, match="does not exist"):
        submit(annotator_d, 999_999)


@pytest.mark.parametrize(("changes", "field"), [
    ({"choice": "C"}, "choice"), ({"strength": "very"}, "strength"), ({"client_id": ""}, "client_id"),
])
def test_bad_judgment_fields_are_named(study, annotator_d, changes, field):
    lease = pair_next_for_annotator(participant=annotator_d)
    data = {"assignment_id": lease.assignment_id, "choice": "A", "client_id": "c", **changes}
    with pytest.raises(InputError) as error:
        judgment_submit(user=annotator_d.user, data=JudgmentInput(**data))
    assert error.value.field == field
