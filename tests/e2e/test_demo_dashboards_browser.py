"""The demo study's dashboards drawn in headless Chromium, and an empty study's dashboard saying so."""

import pytest
from django.contrib.auth import get_user_model

from annotation.demo import demo_load
from tests.factories import make_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, live_server, path: str, username: str, password: str) -> None:
    page.goto(f"{live_server.url}{path}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button.primary")
    page.wait_for_url(f"{live_server.url}{path}")


def test_the_demo_divergence_dashboard_is_drawn_on_first_run(page, live_server, artifacts):
    password = demo_load()["researcher"]
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    _sign_in(page, live_server, "/studies/demo/dashboards/divergence/", "researcher", password)
    page.wait_for_selector("#figure-group-rates.js-plotly-plot svg.main-svg")
    assert page.locator(".js-plotly-plot").count() == 5 and page.locator(".empty-state").count() == 0
    assert "party=R" in page.inner_text("#figure-group-matrix")
    assert "(n=" in page.inner_text(".divisive")
    assert not errors
    page.screenshot(path=str(artifacts / "demo-dashboard-divergence.png"), full_page=True)


def test_an_empty_dashboard_says_nothing_to_show_instead_of_drawing_axes(page, live_server, artifacts, researcher):
    make_study(slug="empty-e2e")
    assert get_user_model().objects.filter(username="researcher").exists()
    _sign_in(page, live_server, "/studies/empty-e2e/dashboards/progress/", "researcher", "pw-researcher-1")
    assert "Nothing to show yet" in page.inner_text("#nothing-to-show")
    assert page.locator(".js-plotly-plot").count() == 0
    page.screenshot(path=str(artifacts / "dashboard-empty-progress.png"), full_page=True)
