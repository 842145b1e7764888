from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.assignment import pair_next_for_annotator
from annotation.errors import Conflict, Forbidden, Gone, InputError, NotFound
from annotation.judgments import JudgmentInput, judgment_submit
from annotation.models import Assignment, Judgment, Slot

pytestmark = pytest.mark.django_db


def submit(participant, assignment_id, client_id="c1", choice="A", **kwargs):
    data = JudgmentInput(assignment_id=assignment_id, choice=choice, client_id=client_id, **kwargs)
    return judgment_submit(participant=participant, data=data, now=kwargs.pop("now", None))


def test_a_judgment_is_stored_with_the_choice_as_shown(study, annotator_d):
    lease = pair_next_for_annotator(participant=annotator_d)
    judgment, created = submit(annotator_d, lease.pk, choice="B", strength="clearly", rationale=" why ")
    assert created
    shown = (lease.pair.candidate_b_id, lease.pair.candidate_a_id) if lease.swapped else (
        lease.pair.candidate_a_id, lease.pair.candidate_b_id)
    assert (judgment.candidate_a_id, judgment.candidate_b_id) == shown
    assert (judgment.choice, judgment.strength, judgment.rationale, judgment.group_key) == (
        "B", "clearly", "why", "party=D")
    assert Slot.objects.get(pk=lease.slot_id).status == Slot.Status.DONE


def test_replaying_a_client_id_returns_the_stored_judgment(study, annotator_d):
    lease = pair_next_for_annotator(participant=annotator_d)
    first, created = submit(annotator_d, lease.pk, choice="A")
    again, created_again = submit(annotator_d, lease.pk, choice="B")
    assert created and not created_again
    assert again.pk == first.pk and again.choice == "A"
    assert Judgment.objects.count() == 1


def test_a_client_id_of_another_annotator_is_refused(study, annotator_d, annotator_r):
    submit(annotator_d, pair_next_for_annotator(participant=annotator_d).pk, client_id="shared")
    with pytest.raises(Conflict):
        submit(annotator_r, pair_next_for_annotator(participant=annotator_r).pk, client_id="shared")


def test_a_judged_assignment_is_never_overwritten(study, annotator_d):
    lease = pair_next_for_annotator(participant=annotator_d)
    submit(annotator_d, lease.pk, client_id="first", choice="A")
    with pytest.raises(Conflict, match="never overwritten"):
        submit(annotator_d, lease.pk, client_id="second", choice="B")
    assert list(Judgment.objects.values_list("choice", flat=True)) == ["A"]


def test_an_expired_lease_is_refused_and_its_slot_reopened(study, annotator_d):
    lease = pair_next_for_annotator(participant=annotator_d)
    with pytest.raises(Gone, match="expired"):
        judgment_submit(
            participant=annotator_d,
            data=JudgmentInput(assignment_id=lease.pk, choice="A", client_id="late"),
            now=timezone.now() + timedelta(minutes=11),
        )
    lease.refresh_from_db()
    assert lease.status == Assignment.Status.EXPIRED
    assert Slot.objects.get(pk=lease.slot_id).status == Slot.Status.OPEN
    assert not Judgment.objects.exists()


def test_a_foreign_assignment_is_refused(study, annotator_d, annotator_r):
    lease = pair_next_for_annotator(participant=annotator_d)
    with pytest.raises(Forbidden, match="another annotator"):
        submit(annotator_r, lease.pk)


def test_an_unknown_assignment_is_refused(study, annotator_d):
    with pytest.raises(NotFound, match="does not exist"):
        submit(annotator_d, 999_999)


@pytest.mark.parametrize(("changes", "field"), [
    ({"choice": "C"}, "choice"), ({"strength": "very"}, "strength"), ({"client_id": ""}, "client_id"),
])
def test_bad_judgment_fields_are_named(study, annotator_d, changes, field):
    lease = pair_next_for_annotator(participant=annotator_d)
    data = {"assignment_id": lease.pk, "choice": "A", "client_id": "c", **changes}
    with pytest.raises(InputError) as error:
        judgment_submit(participant=annotator_d, data=JudgmentInput(**data))
    assert error.value.field == field
