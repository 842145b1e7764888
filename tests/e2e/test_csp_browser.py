"""Under the Content-Security-Policy every page sends, the dashboards (plotly.js), the annotate page (htmx)
and the API docs work in headless Chromium with no violation reported."""

import pytest

from annotation.judgment_files import judgments_import
from tests.factories import jsonl_bytes, make_study

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

DASHBOARDS = ("divergence", "leaderboard", "strategies", "progress", "bridging", "pal", "spica")
_WATCH = """document.addEventListener('securitypolicyviolation', e =>
  (window.__cspViolations = window.__cspViolations || []).push(e.violatedDirective + ' ' + e.blockedURI));"""


@pytest.fixture
def watched(page):
    """The page, with every CSP violation and console error it reports collected in `problems`."""
    problems = []
    page.add_init_script(_WATCH)
    # Chromium logs each refusal as "Refused to ... violates the following Content Security Policy ...".
    page.on("console", lambda msg: "Content Security Policy" in msg.text and problems.append(f"console: {msg.text}"))
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    return page, problems


def _visit(page, problems, url: str) -> None:
    response = page.goto(url)
    assert "script-src 'self'" in response.headers["content-security-policy"], url
    page.wait_for_load_state("networkidle")
    problems.extend(f"{url}: {v}" for v in page.evaluate("window.__cspViolations || []"))


def _divided_study():
    study = make_study(slug="csp-e2e")
    lines = [
        {"annotator_id": f"{party}{i}", "attributes": {"party": party}, "prompt_id": f"p{p}",
         "a": f"p{p}c0", "b": f"p{p}c{c}", "choice": "A" if party == "D" else "B"}
        for p in range(2) for c in (1, 2) for party in ("D", "R") for i in range(3)
    ]
    judgments_import(study=study, stream=jsonl_bytes(lines))


def test_the_dashboards_draw_under_the_policy_with_no_violation(watched, live_server, researcher):
    page, problems = watched
    _divided_study()
    _visit(page, problems, f"{live_server.url}/accounts/login/")
    page.fill("input[name=username]", "researcher")
    page.fill("input[name=password]", "pw-researcher-1")
    page.click("button.primary")
    page.wait_for_url(f"{live_server.url}/")
    for name in DASHBOARDS:
        _visit(page, problems, f"{live_server.url}/studies/csp-e2e/dashboards/{name}/")
        if name == "divergence":
            page.wait_for_selector("#figure-group-rates.js-plotly-plot svg.main-svg")
            page.hover("#figure-group-rates .point", force=True)  # plotly's hover label styles itself at run time
        if name == "bridging":
            page.wait_for_selector("#figure-group-win.js-plotly-plot svg.main-svg")
    _visit(page, problems, f"{live_server.url}/studies/csp-e2e/models/")
    _visit(page, problems, f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock")
    assert not problems, "\n".join(problems)


def test_the_annotate_page_swaps_tasks_with_htmx_under_the_policy_with_no_violation(watched, live_server):
    page, problems = watched
    make_study(slug="csp-ann", quota=2)
    _visit(page, problems, f"{live_server.url}/s/csp-ann/?PROLIFIC_PID=csp-worker")
    page.check("#consent")
    page.click("#accept")
    page.select_option("#attr-party", "D")
    page.click("#start")
    page.wait_for_selector("#judge-form")
    # The shortcuts are bound by deferred scripts: a key pressed before they have run would be lost.
    page.wait_for_load_state("load")
    page.keyboard.press("1")
    page.locator(".progress-label", has_text="1 of 2 done").wait_for()  # no eval: the page's CSP forbids it
    page.keyboard.press("2")
    page.wait_for_url(f"{live_server.url}/s/csp-ann/done/")
    problems.extend(page.evaluate("window.__cspViolations || []"))
    assert page.inner_text("#completion-code") == "CODE-1"
    assert not problems, "\n".join(problems)
