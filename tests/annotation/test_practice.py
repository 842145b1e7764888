"""Practice pairs: shown before the first task with feedback, never stored as judgments."""

import pytest

from annotation.errors import InputError
from annotation.models import Judgment
from annotation.study_files import study_import
from tests.factories import jsonl_bytes, study_lines

pytestmark = pytest.mark.django_db

PRACTICE = [
    {"prompt": "Is the sky **blue**?", "a": "Yes.", "b": "It is green.", "expected": "A",
     "feedback": "A is *accurate*."},
    {"prompt": "Pick any", "a": "One", "b": "Two"},
]


def _joined(client, slug: str, **extra) -> None:
    study_import(jsonl_bytes(study_lines(slug=slug, **extra)), source="p.jsonl")
    client.post(f"/s/{slug}/", {"consent": "yes"})
    client.post(f"/s/{slug}/profile/", {"party": "D"})


def test_practice_comes_first_gives_feedback_and_stores_nothing(client, db):
    _joined(client, "pr", practice=PRACTICE)
    assert client.get("/s/pr/annotate/")["Location"] == "/s/pr/practice/"
    first = client.get("/s/pr/practice/").content.decode()
    assert "Practice 1 of 2" in first and "<strong>blue</strong>" in first and "not recorded" in first
    wrong = client.post("/s/pr/practice/", {"item": 0, "choice": "B"}).content.decode()
    assert "The expected answer was: A is better." in wrong and "<em>accurate</em>" in wrong
    right = client.post("/s/pr/practice/", {"item": 0, "choice": "A"}).content.decode()
    assert "That is the expected answer." in right and 'href="?item=1"' in right
    free = client.post("/s/pr/practice/", {"item": 1, "choice": "tie"}).content.decode()
    assert "expected answer" not in free and 'href="?item=2"' in free
    assert client.get("/s/pr/practice/?item=2")["Location"] == "/s/pr/annotate/"
    assert client.get("/s/pr/annotate/").status_code == 200
    assert not Judgment.objects.exists()


def test_practice_can_be_skipped(client, db):
    _joined(client, "ps", practice=PRACTICE)
    assert client.get("/s/ps/practice/?done=1")["Location"] == "/s/ps/annotate/"
    assert client.get("/s/ps/annotate/").status_code == 200


def test_a_study_without_practice_goes_straight_to_the_task(client, db):
    _joined(client, "np")
    assert client.get("/s/np/annotate/").status_code == 200


@pytest.mark.parametrize("practice, field, message", [
    ("nope", "study.practice", "must be a list"),
    ([{"prompt": "p", "a": "a"}], "study.practice[0].b", "is required"),
    ([{"prompt": "p", "a": "a", "b": "b", "expected": "C"}], "study.practice[0].expected", "must be one of"),
    (["x"], "study.practice[0]", "must be an object"),
])
def test_bad_practice_items_are_refused_with_line_and_field(db, practice, field, message):
    with pytest.raises(InputError) as error:
        study_import(jsonl_bytes(study_lines(slug="bad", practice=practice)), source="bad.jsonl")
    assert (error.value.line, error.value.field) == (1, field)
    assert message in error.value.message
