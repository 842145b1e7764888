"""Study.ties (issue 11): ties count half by default or are left out of what counts; the rule comes
from the study file or the admin, and the export keeps ties whatever it says."""

import json

import pytest
from django.forms import CheckboxInput

from annotation.admin import StudyAdminForm
from annotation.counted_judgments import (
    judgments_that_count,
    participant_judgments_that_count,
    tie_rule_text,
    ties_left_out,
)
from annotation.errors import InputError
from annotation.judgment_export import export_records
from annotation.judgment_files import judgments_import
from annotation.models import Participant, Study
from tests.factories import client_for, jsonl_bytes, make_study

pytestmark = pytest.mark.django_db


def judgment(annotator: str, choice: str, b: str = "p0c1") -> dict:
    return {"annotator_id": annotator, "attributes": {"party": "D"}, "prompt_id": "p0", "a": "p0c0", "b": b,
            "choice": choice}


@pytest.fixture
def judged(study):
    judgments_import(study=study, stream=jsonl_bytes([
        judgment("w1", "A"), judgment("w2", "tie"), judgment("w3", "tie"), judgment("w4", "B"),
        judgment("w1", "tie", b="p0c2"),
    ]))
    return study


def test_a_study_counts_ties_half_unless_its_file_says_drop():
    assert make_study(slug="plain").ties == Study.Ties.HALF
    assert make_study(slug="strict", ties="drop").ties == Study.Ties.DROP


def test_an_unknown_tie_rule_in_a_study_file_names_the_field():
    with pytest.raises(InputError, match="one of half, drop") as error:
        make_study(slug="odd", ties="third")
    assert error.value.field == "study.ties"
    assert not Study.objects.filter(slug="odd").exists()


def test_dropped_ties_leave_what_counts_and_are_counted_as_left_out(judged):
    assert judgments_that_count(study=judged).count() == 5
    assert (ties_left_out(study=judged), tie_rule_text(study=judged)) == (0, "ties count half")
    judged.ties = Study.Ties.DROP
    assert sorted(judgments_that_count(study=judged).values_list("choice", flat=True)) == ["A", "B"]
    assert (ties_left_out(study=judged), tie_rule_text(study=judged)) == (3, "ties left out (3)")


def test_one_annotators_judgments_follow_the_studys_tie_rule(judged):
    w1 = Participant.objects.get(external_id="w1")
    assert participant_judgments_that_count(participant=w1).count() == 2
    Study.objects.filter(pk=judged.pk).update(ties=Study.Ties.DROP)
    assert list(participant_judgments_that_count(participant=w1).values_list("choice", flat=True)) == ["A"]


def test_the_export_keeps_ties_when_the_study_drops_them(judged):
    judged.ties = Study.Ties.DROP
    choices = sorted(record["choice"] for record in export_records(study=judged) if record["kind"] == "judgment")
    assert choices == ["A", "B", "tie", "tie", "tie"]


def _change_form_data(study: Study, **changes) -> dict:
    form = StudyAdminForm(instance=study)
    data = {}
    for name, bound in form.fields.items():
        value = form[name].value()
        if isinstance(bound.widget, CheckboxInput):
            if value:
                data[name] = "on"
            continue
        data[name] = json.dumps(value) if isinstance(value, dict | list) else ("" if value is None else value)
    return {**data, **changes}


def test_an_admin_switches_the_tie_rule_and_dashboard_snapshots_go_stale(client, admin_user, judged):
    admin_user.is_staff = True  # the admins role reaches the Django admin as staff
    admin_user.save(update_fields=["is_staff"])
    client.force_login(admin_user)
    url = f"/admin/annotation/study/{judged.pk}/change/"
    assert 'name="ties"' in client.get(url).content.decode()
    response = client.post(url, _change_form_data(judged, ties="drop"))
    assert response.status_code == 302, response.content.decode()[:2000]
    judged.refresh_from_db()
    assert judged.ties == Study.Ties.DROP and judged.exclusions_changed_at is not None
    assert judgments_that_count(study=judged).count() == 2


def test_the_study_api_says_which_tie_rule_holds(researcher):
    make_study(slug="strict", ties="drop")
    assert client_for(researcher).get("/api/studies/strict/").json()["ties"] == "drop"
