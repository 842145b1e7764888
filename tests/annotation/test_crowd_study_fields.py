"""Study-file fields for crowd studies: value labels for attribute values, attribute names in any script."""

import pytest

from annotation.errors import InputError
from annotation.models import Participant
from annotation.study_files import study_import
from tests.factories import jsonl_bytes, study_lines

pytestmark = pytest.mark.django_db

LABELLED = {"party": {"D": "Democrat", "R": "Republican"}, "région": ["Nord", "Sud"]}


def _import(slug: str, **extra):
    return study_import(jsonl_bytes(study_lines(slug=slug, **extra)), source=f"{slug}.jsonl").study


def test_value_labels_are_kept_and_the_values_stay_the_group_keys(db):
    study = _import("lab", group_attributes=LABELLED)
    assert study.group_attributes == {"party": ["D", "R"], "région": ["Nord", "Sud"]}
    assert study.attribute_labels == {"party": {"D": "Democrat", "R": "Republican"}}


def test_the_list_form_keeps_working_without_labels(db):
    study = _import("lst", group_attributes={"party": ["D", "R"]})
    assert study.group_attributes == {"party": ["D", "R"]} and study.attribute_labels == {}


def test_the_profile_page_shows_labels_and_joins_with_a_unicode_attribute(client, db):
    _import("lab", group_attributes=LABELLED)
    client.post("/s/lab/", {"consent": "yes"})
    page = client.get("/s/lab/profile/").content.decode()
    assert '<option value="D">Democrat</option>' in page and '<option value="R">Republican</option>' in page
    assert 'name="région"' in page and '<option value="Sud">Sud</option>' in page
    assert client.post("/s/lab/profile/", {"party": "R", "région": "Sud"})["Location"] == "/s/lab/annotate/"
    assert Participant.objects.get().group_key == "party=R|région=Sud"


def test_the_api_join_takes_a_unicode_attribute(api, db):
    _import("uni", group_attributes={"地域": ["東", "西"]})
    answer = api.post("/api/studies/uni/join/", {"consent": True, "attributes": {"地域": "西"}}, format="json")
    assert answer.status_code == 201 and answer.json()["group"] == "地域=西"


@pytest.mark.parametrize("attributes, field, message", [
    ({"1party": ["D"]}, "study.group_attributes.1party", "not starting with a digit"),
    ({"par ty": ["D"]}, "study.group_attributes.par ty", "letters (any script)"),
    ({"party": {}}, "study.group_attributes.party", "object of value: label"),
    ({"party": {"D": ""}}, "study.group_attributes.party.D", "non-empty string"),
    ({"party": {"D": 3}}, "study.group_attributes.party.D", "non-empty string"),
    ({"party": {"D|x": "Dem"}}, "study.group_attributes.party", "no '|' or '='"),
])
def test_bad_attributes_or_labels_are_refused_with_line_and_field(db, attributes, field, message):
    with pytest.raises(InputError) as error:
        _import("bad", group_attributes=attributes)
    assert (error.value.line, error.value.field, error.value.source) == (1, field, "bad.jsonl")
    assert message in error.value.message
