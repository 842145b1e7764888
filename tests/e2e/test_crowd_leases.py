"""Leases never lose work, in the browser: renewal while active, a warning when not, a lapsed lease that
still submits."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from annotation.assignment import assignments_expire
from annotation.models import Assignment, Judgment, Slot
from tests.e2e.crowd import join_by_link
from tests.factories import make_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _join(page, live_server, slug: str, pid: str) -> int:
    join_by_link(page, live_server, slug, pid)
    return int(page.get_attribute("#task", "data-assignment"))


def _lease_ends_in(assignment_id: int, seconds: int) -> None:
    now = timezone.now()
    Assignment.objects.filter(pk=assignment_id).update(
        created_at=now - timedelta(minutes=5), expires_at=now + timedelta(seconds=seconds))
    Slot.objects.filter(assignments__pk=assignment_id).update(lease_expires_at=now + timedelta(seconds=seconds))


def test_the_page_warns_before_the_lease_ends_and_renews_it_while_the_annotator_is_active(page, live_server):
    make_study(slug="renew", quota=3, lease_minutes=1)
    shown = _join(page, live_server, "renew", "renew-1")
    _lease_ends_in(shown, 15)
    page.reload()  # the page now knows 15 s are left; nobody has touched it
    page.wait_for_selector("#lease-warning:not([hidden])")
    assert "less than a minute" in page.inner_text("#lease-warning")
    before = Assignment.objects.get(pk=shown).expires_at

    page.mouse.move(200, 300)
    page.mouse.move(220, 320)
    page.wait_for_selector("#lease-warning", state="hidden")
    renewed = Assignment.objects.get(pk=shown).expires_at
    assert renewed > before + timedelta(seconds=30)
    assert Slot.objects.get(assignments__pk=shown).lease_expires_at == renewed


def test_a_lapsed_lease_still_submits_when_its_slot_is_free(page, live_server):
    make_study(slug="lapsed", quota=3, lease_minutes=1)
    shown = _join(page, live_server, "lapsed", "lapsed-1")
    now = timezone.now()
    Assignment.objects.filter(pk=shown).update(created_at=now - timedelta(minutes=3),
                                               expires_at=now - timedelta(minutes=2))
    Slot.objects.filter(assignments__pk=shown).update(lease_expires_at=now - timedelta(minutes=2))
    assert assignments_expire() == 1  # the beat task has ended it and reopened its slot

    page.fill("textarea[name=rationale]", "typed before the lease ended")
    page.click("button[name=choice][value=B]")
    page.locator(".progress-label", has_text=re.compile(r"^1 of 3")).wait_for()  # no eval: the page's CSP forbids it
    judgment = Judgment.objects.get(participant__external_id="lapsed-1")
    assert (judgment.assignment_id, judgment.choice, judgment.rationale) == (
        shown, "B", "typed before the lease ended")


def test_an_annotator_skips_a_pair_they_cannot_judge(page, live_server):
    make_study(slug="skip", quota=2)
    shown = _join(page, live_server, "skip", "skip-1")
    page.click("#skip")
    # no eval: the page's CSP forbids it
    page.locator(f"#task:not([data-assignment='{shown}'])").wait_for(state="attached")
    assert page.inner_text(".progress-label").startswith("0 of 2")  # a skip is not a judgment
    skipped = Assignment.objects.get(pk=shown)
    assert skipped.status == Assignment.Status.SKIPPED and skipped.skip.participant.external_id == "skip-1"
    assert not Judgment.objects.exists()
