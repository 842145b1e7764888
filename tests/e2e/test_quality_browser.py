"""Attention checks and annotator review in headless Chromium: gold items come at about the study's rate
without filling any pair's k; an admin excludes an annotator on the quality page and their judgments leave
a dashboard and a refit's dataset, and return when the exclusion is lifted."""

import random
import re

import pytest

from alignment.pal_dataset import pal_data_for_study
from annotation.judgment_files import judgments_import
from annotation.models import GoldItem, Judgment, Participant, Slot
from annotation.study_files import study_import
from tests.factories import jsonl_bytes, make_study, study_lines

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

QUOTA = 20


def _gold_study():
    gold = [{"gold": {"prompt_id": f"g{i}", "turns": [{"role": "user", "content": f"Which answer says yes ({i})?"}],
                      "candidates": [{"candidate_id": f"g{i}-y", "text": f"Yes, number {i}."},
                                     {"candidate_id": f"g{i}-n", "text": "No."}],
                      "a": f"g{i}-y", "b": f"g{i}-n", "expected": "A"}} for i in range(QUOTA)]
    lines = study_lines(slug="gold-e2e", prompts=8, candidates=4, overlap=2, quota=QUOTA, gold_rate=0.3,
                        screen_min_gold=50) + gold
    return study_import(jsonl_bytes(lines), source="gold-e2e.jsonl").study


def test_gold_items_are_served_at_about_the_rate_and_not_counted_toward_k(page, live_server, artifacts):
    random.seed(7)  # the live server runs in this process: one fixed sequence of dice
    study = _gold_study()
    page.goto(f"{live_server.url}/s/gold-e2e/?PROLIFIC_PID=gold-worker")
    page.check("#consent")
    page.click("#accept")
    page.select_option("#attr-party", "D")
    page.click("#start")
    for done in range(QUOTA):
        page.wait_for_selector("#judge-form")
        # no eval: the page's CSP forbids it
        page.locator(".progress-label", has_text=re.compile(rf"^{done} of {QUOTA}")).wait_for()
        page.keyboard.press("1")
    page.wait_for_url(f"{live_server.url}/s/gold-e2e/done/")
    assert page.inner_text("#completion-code") == "CODE-1"

    worker = Participant.objects.get(study=study, external_id="gold-worker")
    gold_pairs = set(GoldItem.objects.filter(study=study).values_list("pair_id", flat=True))
    judged = list(Judgment.objects.filter(participant=worker).values_list("pair_id", flat=True))
    gold = sum(pair in gold_pairs for pair in judged)
    assert len(judged) == QUOTA
    assert 2 <= gold <= 12  # 6 expected at gold_rate 0.3 of 20
    # Gold answers used slots born done; ordinary pairs lost exactly one open slot per ordinary judgment.
    ordinary_done = Slot.objects.filter(study=study, status="done").exclude(pair_id__in=gold_pairs).count()
    assert ordinary_done == QUOTA - gold
    assert not Slot.objects.filter(pair_id__in=gold_pairs).exclude(status="done").exists()


def _judged_study():
    study = make_study(slug="review-e2e", min_judgment_ms=800)
    lines = [{"annotator_id": who, "attributes": {"party": party}, "prompt_id": f"p{p}", "a": f"p{p}c0",
              "b": f"p{p}c{c}", "choice": "A" if party == "D" else "B"}
             for p in range(3) for c in (1, 2) for who, party in (("d1", "D"), ("d2", "D"), ("r1", "R"))]
    judgments_import(study=study, stream=jsonl_bytes(lines))
    return study


def _progress_judgments(page, base) -> int:
    page.goto(f"{base}/studies/review-e2e/dashboards/progress/")
    return int(re.search(r"(\d+) judgments by", page.inner_text(".summary")).group(1))


def test_an_admin_excludes_an_annotator_and_their_judgments_leave_a_dashboard_and_a_refit_dataset(
    page, live_server, artifacts, admin_user, settings
):
    settings.DASHBOARD_MAX_AGE_SECONDS = 600
    study = _judged_study()
    d1 = Participant.objects.get(study=study, external_id="d1")
    page.goto(f"{live_server.url}/studies/review-e2e/quality/")
    page.fill("input[name=username]", "study-admin")
    page.fill("input[name=password]", "pw-admin-1")
    page.click("button.primary")
    page.wait_for_selector("#quality-table")
    assert _progress_judgments(page, live_server.url) == 18
    assert len(pal_data_for_study(study=study).data.judgments.user) == 18

    page.goto(f"{live_server.url}/studies/review-e2e/quality/")
    row = f"#annotator-{d1.pk}"
    page.fill(f"{row} input[name=note]", "always agrees with d2")
    page.click(f"{row} button[value=flag]")
    page.wait_for_selector(f"{row} .flag-note")
    page.click(f"{row} button[value=exclude]")
    page.wait_for_selector(f"{row}.excluded")
    page.screenshot(path=str(artifacts / "quality.png"), full_page=True)

    assert _progress_judgments(page, live_server.url) == 12
    dataset = pal_data_for_study(study=study)
    assert len(dataset.data.judgments.user) == 12 and d1.pk not in dataset.participant_ids.tolist()

    page.goto(f"{live_server.url}/studies/review-e2e/quality/")
    page.click(f"{row} button[value=include]")
    page.wait_for_selector(f"{row}:not(.excluded)")
    assert _progress_judgments(page, live_server.url) == 18
    assert len(pal_data_for_study(study=study).data.judgments.user) == 18
