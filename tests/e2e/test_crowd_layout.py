"""The annotate page on a desktop and on a phone: instructions, Markdown, controls always in reach."""

import pytest

from annotation.study_files import study_import
from tests.factories import jsonl_bytes, study_lines

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LONG = "\n\n".join(f"Paragraph {i}: " + "a long answer that goes on " * 12 for i in range(30))


def _long_study() -> None:
    lines = study_lines(slug="long", prompts=2, candidates=2, quota=2,
                        instructions="Read **both** answers.\n\n```\ncode looks like this\n```")
    lines[1]["candidates"][0]["text"] = LONG + "\n\n```python\nprint('monospace')\n```"
    lines[1]["candidates"][1]["text"] = LONG
    study_import(jsonl_bytes(lines), source="long.jsonl")


def _join(page, live_server) -> None:
    page.goto(f"{live_server.url}/s/long/?PROLIFIC_PID=layout-1")
    page.check("#consent")
    page.click("#accept")
    page.select_option("#attr-party", "D")
    page.click("#start")
    page.wait_for_selector("#judge-form")


def _in_viewport(page, selector: str) -> bool:
    return page.evaluate("""(selector) => {
        const box = document.querySelector(selector).getBoundingClientRect();
        return box.top >= 0 && box.bottom <= window.innerHeight + 1 && box.height > 0;
    }""", selector)


def test_on_a_desktop_the_choices_stay_visible_however_long_the_responses(page, live_server, artifacts):
    _long_study()
    _join(page, live_server)
    assert page.is_visible("#instructions") and page.get_attribute("#instructions", "open") is not None
    assert page.evaluate("getComputedStyle(document.querySelector('.response pre code')).fontFamily").find(
        "monospace") >= 0
    assert page.is_visible(".shortcuts")
    assert _in_viewport(page, "#choices")
    page.mouse.wheel(0, 3000)
    page.wait_for_timeout(300)
    assert _in_viewport(page, "#choices")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(artifacts / "annotate-desktop.png"))


def test_on_a_phone_there_is_no_keyboard_legend_and_targets_are_44_px(browser, live_server, artifacts):
    _long_study()
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  device_scale_factor=2)
    page = context.new_page()
    try:
        _join(page, live_server)
        assert not page.is_visible(".shortcuts")
        assert not page.is_visible("#choices kbd")
        for selector in ("button[name=choice]", "#skip", ".strength label", "#instructions summary"):
            for box in [element.bounding_box() for element in page.query_selector_all(selector)]:
                assert box["height"] >= 44, selector
        assert _in_viewport(page, "#choices")
        page.screenshot(path=str(artifacts / "annotate-phone.png"))
        page.click("#instructions summary")  # collapse it, then reach it again from the header
        page.mouse.wheel(0, 2000)
        page.click("#instructions-link")
        assert page.get_attribute("#instructions", "open") is not None
    finally:
        context.close()
