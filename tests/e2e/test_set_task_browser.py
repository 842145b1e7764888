"""A set task in headless Chromium: the best and a ranking by keyboard on one set and by pointer on another, an
explanation, the next set without a reload, and what the database then holds."""

import pytest

from annotation.models import Candidate, Judgment, Participant, SetJudgment
from annotation.study_files import study_import
from tests.e2e.crowd import join_by_link
from tests.e2e.test_languages_browser import _devanagari_font_installed, _fonts_drawing, _press
from tests.factories import jsonl_bytes, make_study, require, study_lines

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _set_study(slug: str, **extra) -> None:
    make_study(slug=slug, task="set", set_size=4, prompts=3, candidates=4, overlap=2, quota=3, **extra)


def _cards(page) -> list[str]:
    """The candidates' external ids in the order the page shows them."""
    return [card.get_attribute("data-candidate") for card in page.query_selector_all(".set-card")]


def _wait_for_done(page, done: int) -> None:
    page.locator(f'#progress[value="{done}"]').wait_for()  # no eval: the page's CSP forbids it


def _ids(externals: list[str], prompt_cards: list[str]) -> list[int]:
    candidates = dict(Candidate.objects.filter(external_id__in=prompt_cards).values_list("external_id", "pk"))
    return [candidates[external] for external in externals]


def test_an_annotator_judges_sets_by_keyboard_and_by_pointer_without_a_reload(page, live_server, artifacts):
    _set_study("set-e2e", completion_url="https://example.org/complete?cc={code}")
    join_by_link(page, live_server, "set-e2e", "set-worker")
    documents = []
    page.on("request", lambda request: documents.append(request.url) if request.resource_type == "document" else None)
    assert page.is_disabled(".set-submit")  # nothing picked yet
    assert "then press the others in order" in page.inner_text(".shortcuts")
    page.screenshot(path=str(artifacts / "set-annotate.png"), full_page=True)

    # Set 1, keyboard: 3 is best, then 1 and 4 in that order; 2 left unranked.
    first = _cards(page)
    for key in ("3", "1", "4"):
        page.keyboard.press(key)
    assert page.inner_text(".set-order") == "Your order: 3 › 1 › 4"
    assert page.get_attribute("#set-card-3", "class").endswith("is-best")
    page.keyboard.press("r")
    page.keyboard.type("The third one respects both views.")
    page.keyboard.press("Escape")
    page.screenshot(path=str(artifacts / "set-ranked-by-keyboard.png"), full_page=True)
    page.keyboard.press("Enter")
    _wait_for_done(page, 1)

    # Set 2, pointer: best by its radio, places by the selects, the explanation typed.
    second = _cards(page)
    assert second != first and page.is_disabled(".set-submit")
    page.click("#set-card-2 .set-best")
    assert page.is_disabled("#set-card-2 select[name=place]")  # the best has no place among the others
    page.select_option("#set-card-4 select[name=place]", f"2:{second[3]}")
    page.select_option("#set-card-1 select[name=place]", f"3:{second[0]}")
    page.select_option("#set-card-3 select[name=place]", f"3:{second[2]}")  # a tie with 1
    assert page.inner_text(".set-order") == "Your order: 2 › 4 › 1 = 3"
    page.fill("textarea[name=explanation]", "Two is kindest; one and three are as good as each other.")
    page.click(".set-submit")
    _wait_for_done(page, 2)

    # Set 3, keyboard with an undo: 2 best, 1 ranked then taken back, 4 next best.
    third = _cards(page)
    for key in ("2", "1", "Backspace", "4"):
        page.keyboard.press(key)
    assert page.inner_text(".set-order") == "Your order: 2 › 4"
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/s/set-e2e/done/")
    assert page.inner_text("#completion-code") == "CODE-1"
    assert documents == [f"{live_server.url}/s/set-e2e/done/"]  # sets 2 and 3 came without a page load

    participant = Participant.objects.get(external_id="set-worker")
    judgments = list(SetJudgment.objects.filter(participant=participant).order_by("id"))
    assert [j.shown for j in judgments] == [_ids(first, first), _ids(second, second), _ids(third, third)]
    one, two, three = judgments
    assert one.best_id == _ids([first[2]], first)[0]
    assert one.ranking == [_ids([first[0]], first), _ids([first[3]], first)]
    assert one.explanation == "The third one respects both views."
    assert two.best_id == _ids([second[1]], second)[0]
    assert two.ranking == [_ids([second[3]], second), _ids([second[0], second[2]], second)]
    assert three.ranking == [_ids([third[3]], third)] and three.explanation == ""
    assert all(j.time_taken_ms is not None and j.time_taken_ms > 0 for j in judgments)
    # The expansion: the best over the 3 others, then the ranking's pairs, marked implied (ties within a block).
    expanded = [list(Judgment.objects.filter(set_judgment=j).values_list("implied", "choice")) for j in judgments]
    assert [len(rows) for rows in expanded] == [6, 6, 5]
    assert [sum(implied for implied, _choice in rows) for rows in expanded] == [3, 3, 2]
    assert [choice for _implied, choice in expanded[1]].count("tie") == 1


@pytest.mark.parametrize(("language", "keys", "best", "ranked"), [
    ("fr", [('"', "Digit3"), ("&", "Digit1")], 3, 1),  # AZERTY: the digit row types " and & without Shift
    ("hi", [("३", "Digit3"), ("१", "Digit1")], 3, 1),  # Devanagari digits on the digit row
])
def test_set_shortcuts_need_no_shift_on_the_layouts_of_the_study_countries(page, live_server, language, keys, best,
                                                                          ranked):
    slug = f"set-keys-{language}"
    _set_study(slug, language=language)
    join_by_link(page, live_server, slug, f"{slug}-1")
    shown = _cards(page)
    for key, code in keys:
        _press(page, key, code)
    _press(page, "Enter", "Enter")
    _wait_for_done(page, 1)
    judgment = SetJudgment.objects.get(participant__external_id=f"{slug}-1")
    assert judgment.best_id == _ids([shown[best - 1]], shown)[0]
    assert judgment.ranking == [_ids([shown[ranked - 1]], shown)]


def test_the_hindi_set_page_draws_devanagari_with_a_devanagari_font(page, live_server, artifacts):
    if not _devanagari_font_installed():
        if require("PLURALWEB_REQUIRE_BROWSER"):
            pytest.fail("no Devanagari font is installed (apt-get install fonts-lohit-deva)")
        pytest.skip("no Devanagari font is installed (apt-get install fonts-lohit-deva)")
    _set_study("set-hindi", language="hi")
    join_by_link(page, live_server, "set-hindi", "set-hindi-1")
    assert page.inner_text(".set-question legend strong") == "कौन-सा उत्तर सबसे अच्छा है?"
    page.screenshot(path=str(artifacts / "set-annotate-hindi.png"), full_page=False)
    fonts = _fonts_drawing(page, ".set-question legend strong")
    devanagari = [font for font in fonts if "devanagari" in font["familyName"].lower()]
    assert devanagari and sum(f["glyphCount"] for f in devanagari) >= 10, fonts


LONG = "\n\n".join(f"Paragraph {i}: " + "a long answer that goes on " * 12 for i in range(30))


def test_long_sets_stay_usable_on_a_desktop_and_on_a_phone(browser, live_server, artifacts):
    lines = study_lines(slug="set-long", task="set", set_size=4, prompts=1, candidates=4, overlap=4, quota=1)
    for candidate in lines[1]["candidates"]:
        candidate["text"] = LONG
    study_import(jsonl_bytes(lines), source="set-long.jsonl")
    for name, options in [("desktop", {"viewport": {"width": 1280, "height": 900}}),
                          ("phone", {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True,
                                     "device_scale_factor": 2})]:
        context = browser.new_context(**options)
        page = context.new_page()
        try:
            join_by_link(page, live_server, "set-long", f"set-long-{name}")
            boxes = [card.bounding_box() for card in page.query_selector_all(".set-card")]
            columns = len({round(box["x"]) for box in boxes})
            assert columns == (2 if name == "desktop" else 1)
            assert all(box["width"] >= 300 for box in boxes)  # readable, never squeezed
            for selector in (".set-best", ".set-place", ".set-submit", "#skip"):
                assert all(el.bounding_box()["height"] >= 44 for el in page.query_selector_all(selector)), selector
            page.mouse.wheel(0, 4000)
            page.wait_for_timeout(300)
            height = options["viewport"]["height"]
            box = page.locator(".set-submit").bounding_box()
            assert 0 <= box["y"] and box["y"] + box["height"] <= height + 1  # the submit row sticks to the bottom
            heads = [head.bounding_box() for head in page.query_selector_all(".set-card-head")]
            assert any(0 <= head["y"] and head["y"] + head["height"] <= height for head in heads)  # best in reach
            page.screenshot(path=str(artifacts / f"set-annotate-{name}.png"))
        finally:
            context.close()


def test_a_double_enter_gives_one_set_judgment_and_submit_waits_out_min_view_ms(page, live_server):
    _set_study("set-double", min_view_ms=1500)
    join_by_link(page, live_server, "set-double", "set-double-1")
    first = page.get_attribute("#task", "data-assignment")
    page.keyboard.press("1")
    assert page.inner_text(".set-order") == "Your order: 1"
    assert page.is_disabled(".set-submit")  # a best, but not yet on screen for min_view_ms
    page.locator(".set-submit:not([disabled])").wait_for()
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")  # lands on nothing: the first submit locked the form, the next set is held
    _wait_for_done(page, 1)
    page.wait_for_timeout(500)
    assert page.get_attribute("#task", "data-assignment") != first
    assert page.is_disabled(".set-submit")  # the next set: nothing picked, and held
    assert [j.assignment_id for j in SetJudgment.objects.filter(participant__external_id="set-double-1")] == [
        int(first)]
