"""A returning participant on a new browser (another device) resumes, and after completion sees the code again."""

import re

import pytest

from annotation.models import Participant
from tests.factories import make_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_returning_participant_resumes_in_a_new_browser_and_sees_the_code_again(browser, live_server):
    make_study(slug="back", quota=2)
    link = f"{live_server.url}/s/back/?PROLIFIC_PID=back-1"
    laptop = browser.new_context()
    page = laptop.new_page()
    page.goto(link)
    page.check("#consent")
    page.click("#accept")
    page.select_option("#attr-party", "R")
    page.click("#start")
    page.wait_for_selector("#judge-form")
    shown = page.get_attribute("#task", "data-assignment")
    laptop.close()

    phone = browser.new_context(viewport={"width": 390, "height": 844})
    page = phone.new_page()
    page.goto(link)
    page.wait_for_selector("#judge-form")  # no consent and no profile again
    assert page.get_attribute("#task", "data-assignment") == shown
    page.click("button[name=choice][value=A]")
    page.locator(".progress-label", has_text=re.compile(r"^1 of 2")).wait_for()  # no eval: the page's CSP forbids it
    page.click("button[name=choice][value=B]")
    page.wait_for_url(f"{live_server.url}/s/back/done/")
    phone.close()

    again = browser.new_context()
    page = again.new_page()
    page.goto(link)
    page.wait_for_url(f"{live_server.url}/s/back/done/")
    assert page.inner_text("#completion-code") == "CODE-1"
    again.close()
    assert Participant.objects.filter(external_id="back-1").count() == 1
