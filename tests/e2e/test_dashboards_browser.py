"""A researcher in headless Chromium signs in and sees the divergence dashboard drawn by plotly.js."""

import pytest

from annotation.judgment_files import judgments_import
from tests.factories import jsonl_bytes, make_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _divided_study():
    """Party D prefers the first candidate of each pair, party R the second, on every pair of p0 and p1."""
    study = make_study(slug="dash-e2e")
    lines = [
        {"annotator_id": f"{party}{i}", "attributes": {"party": party}, "prompt_id": f"p{p}",
         "a": f"p{p}c0", "b": f"p{p}c{c}", "choice": "A" if party == "D" else "B"}
        for p in range(2) for c in (1, 2) for party in ("D", "R") for i in range(3)
    ]
    judgments_import(study=study, stream=jsonl_bytes(lines))
    return study


def test_a_researcher_sees_the_divergence_dashboard_drawn(page, live_server, artifacts, researcher):
    _divided_study()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{live_server.url}/studies/dash-e2e/dashboards/divergence/")
    page.fill("input[name=username]", "researcher")
    page.fill("input[name=password]", "pw-researcher-1")
    page.click("button.primary")
    page.wait_for_url(f"{live_server.url}/studies/dash-e2e/dashboards/divergence/")

    page.wait_for_selector("#figure-group-rates.js-plotly-plot svg.main-svg")
    page.wait_for_selector("#figure-group-matrix.js-plotly-plot svg.main-svg")
    assert page.locator(".js-plotly-plot").count() == 5
    # The heatmap and the rates figure carry the groups as drawn text, not only as JSON.
    assert "party=R" in page.inner_text("#figure-group-matrix")
    assert page.locator("#figure-group-rates .point").count() >= 2
    assert "Question number 0 about values?" in page.inner_text(".divisive")
    assert not errors
    page.screenshot(path=str(artifacts / "dashboard-divergence.png"), full_page=True)
