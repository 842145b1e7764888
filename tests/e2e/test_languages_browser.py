"""The annotate page in Hindi renders Devanagari, and the shortcuts work without Shift on AZERTY and Devanagari
layouts (where the digit row or the letter keys type other characters)."""

import shutil
import subprocess

import pytest

from annotation.models import Judgment
from tests.e2e.crowd import join_by_link
from tests.factories import make_study, require

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _press(page, key: str, code: str) -> None:
    # What a keyboard of that layout sends: Playwright's own key presses assume a US layout.
    page.locator("body").dispatch_event("keydown", {"key": key, "code": code, "bubbles": True, "cancelable": True})


def _fonts_drawing(page, selector: str) -> list[dict]:
    """The platform fonts Chromium drew the element's text with (DevTools protocol), glyphs per font."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("DOM.enable")
    cdp.send("CSS.enable")
    root = cdp.send("DOM.getDocument")["root"]["nodeId"]
    node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    return cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]


@pytest.mark.parametrize(("language", "key", "code", "choice"), [
    ("fr", "&", "Digit1", "A"),  # AZERTY: the 1 key without Shift types &
    ("fr", "é", "Digit2", "B"),
    ("hi", "ो", "KeyA", "A"),  # Devanagari InScript: the A key types ो
    ("hi", "प", "KeyT", "tie"),
])
def test_a_shortcut_needs_no_shift_on_the_layouts_of_the_study_countries(page, live_server, language, key, code,
                                                                        choice):
    slug = f"keys-{language}-{choice.lower()}"
    make_study(slug=slug, language=language, quota=5)
    join_by_link(page, live_server, slug, f"{slug}-1")
    page.locator("button[name=choice]:not([disabled])").first.wait_for()
    _press(page, key, code)
    page.locator(".progress-label", has_text="1").wait_for()  # no eval: the page's CSP forbids it
    assert [j.choice for j in Judgment.objects.filter(participant__external_id=f"{slug}-1")] == [choice]


def _devanagari_font_installed() -> bool:
    if shutil.which("fc-list") is None:
        return False
    return bool(subprocess.run(["fc-list", ":lang=hi"], capture_output=True, text=True).stdout.strip())


def test_the_hindi_page_draws_devanagari_with_a_devanagari_font(page, live_server, artifacts):
    # What an annotator's machine in India has; a bare Debian lacks it (apt-get install fonts-lohit-deva).
    if not _devanagari_font_installed():
        if require("PLURALWEB_REQUIRE_BROWSER"):
            pytest.fail("no Devanagari font is installed (apt-get install fonts-lohit-deva)")
        pytest.skip("no Devanagari font is installed (apt-get install fonts-lohit-deva)")
    make_study(slug="hindi", language="hi", quota=5)
    join_by_link(page, live_server, "hindi", "hindi-1")
    button = page.locator("button[name=choice][value=A]")
    assert button.inner_text().strip().startswith("A बेहतर है")
    page.screenshot(path=str(artifacts / "annotate-hindi.png"), full_page=False)
    fonts = _fonts_drawing(page, "button[name=choice][value=A]")
    # A missing font would leave the text to the last-resort font as empty boxes: a font that covers
    # Devanagari must draw most of the glyphs.
    devanagari = [font for font in fonts if "devanagari" in font["familyName"].lower()]
    assert devanagari and sum(f["glyphCount"] for f in devanagari) >= 4, fonts
