"""An annotator in headless Chromium: join -> consent -> profile -> annotate with the keyboard -> completion."""

import pytest

from annotation.models import Judgment, Participant
from tests.factories import make_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_annotator_walks_the_study_with_the_keyboard(page, live_server, artifacts):
    make_study(slug="e2e", quota=3, completion_url="https://example.org/complete?cc={code}")
    page.goto(f"{live_server.url}/s/e2e/?PROLIFIC_PID=e2e-worker")
    page.check("#consent")
    page.click("#accept")
    page.select_option("#attr-party", "R")
    page.click("#start")

    page.wait_for_selector("#judge-form")
    assert page.inner_text(".progress-label") == "0 of 3 done"
    assert "Keyboard" in page.inner_text(".shortcuts")
    page.screenshot(path=str(artifacts / "annotate.png"), full_page=True)

    page.keyboard.press("s")  # strength: slightly
    page.keyboard.press("1")  # A is better
    page.locator(".progress-label", has_text="1 of 3 done").wait_for()  # no eval: the page's CSP forbids it
    page.keyboard.press("b")  # B is better
    page.locator(".progress-label", has_text="2 of 3 done").wait_for()  # no eval: the page's CSP forbids it
    page.keyboard.press("t")  # tie
    page.wait_for_url(f"{live_server.url}/s/e2e/done/")

    assert page.inner_text("#completion-code") == "CODE-1"
    assert page.get_attribute("#completion-link", "href") == "https://example.org/complete?cc=CODE-1"
    page.screenshot(path=str(artifacts / "completion.png"), full_page=True)

    participant = Participant.objects.get(external_id="e2e-worker")
    assert participant.group_key == "party=R"
    judgments = list(Judgment.objects.filter(participant=participant).order_by("id"))
    assert [(j.choice, j.strength) for j in judgments] == [("A", "slightly"), ("B", ""), ("tie", "")]
    assert all(j.time_taken_ms is not None and j.time_taken_ms >= 0 for j in judgments)
