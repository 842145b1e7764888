"""A held key or a double press gives exactly one judgment, on the pair that was on screen."""

import re

import pytest

from annotation.models import Assignment, Judgment, Participant
from tests.e2e.crowd import join_by_link
from tests.factories import make_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _shown_assignment(page) -> int:
    return int(page.get_attribute("#task", "data-assignment"))


def test_holding_a_key_down_gives_one_judgment(page, live_server):
    make_study(slug="held", quota=5)  # min_view_ms off: the key's auto-repeat alone must not judge
    join_by_link(page, live_server, "held", "held-1")
    first = _shown_assignment(page)
    page.keyboard.down("1")
    for _ in range(8):  # what the keyboard sends while the key is held: keydown events with repeat set
        page.wait_for_timeout(150)
        page.keyboard.down("1")
    page.keyboard.up("1")
    page.locator(".progress-label", has_text=re.compile(r"^1 of 5")).wait_for()  # no eval: the page's CSP forbids it
    page.wait_for_timeout(500)

    judgments = list(Judgment.objects.filter(participant__external_id="held-1"))
    assert [(j.assignment_id, j.choice) for j in judgments] == [(first, "A")]
    assert page.inner_text(".progress-label").startswith("1 of 5")


def test_a_double_press_gives_one_judgment_on_the_pair_that_was_shown(page, live_server):
    make_study(slug="double", quota=5, min_view_ms=1000)
    join_by_link(page, live_server, "double", "double-1")
    # The buttons come enabled in the HTML until the script holds them: wait out min_view_ms itself, so the
    # first press is a real answer (under CI load the enabled-wait alone could pass before the hold began).
    page.wait_for_timeout(1200)
    page.locator("button[name=choice][value=B]:not([disabled])").wait_for()  # no eval: the page's CSP forbids it
    first = _shown_assignment(page)
    page.keyboard.press("2")
    page.wait_for_timeout(300)
    page.keyboard.press("2")  # the next pair has been on screen for less than min_view_ms
    page.wait_for_timeout(1500)

    participant = Participant.objects.get(external_id="double-1")
    judgments = list(Judgment.objects.filter(participant=participant))
    assert [(j.assignment_id, j.choice) for j in judgments] == [(first, "B")]
    assert _shown_assignment(page) != first
    live = Assignment.objects.get(participant=participant, status=Assignment.Status.ACTIVE)
    assert live.pk == _shown_assignment(page)


def test_clicking_twice_gives_one_judgment(page, live_server):
    make_study(slug="clicks", quota=5)
    join_by_link(page, live_server, "clicks", "clicks-1")
    first = _shown_assignment(page)
    page.evaluate("""() => {
        const button = document.querySelector('button[name=choice][value=A]');
        button.click(); button.click();
    }""")
    page.locator(".progress-label", has_text=re.compile(r"^1 of 5")).wait_for()  # no eval: the page's CSP forbids it
    page.wait_for_timeout(500)
    judgments = list(Judgment.objects.filter(participant__external_id="clicks-1"))
    assert [(j.assignment_id, j.choice) for j in judgments] == [(first, "A")]
