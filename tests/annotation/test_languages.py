"""The annotator pages in Community Alignment's five languages (English, French, Italian, Portuguese, Hindi)."""

import gettext
import json
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from tests.factories import make_study

pytestmark = pytest.mark.django_db
LOCALE = Path(__file__).resolve().parents[2] / "locale"
# The sources of the annotator's pages and messages: every string in them is translated in every language.
ANNOTATOR_SOURCES = re.compile(r"^(templates/annotation/(?!quality)|templates/registration/|annotation/views\.py|"
                               r"annotation/notices\.py|pluralweb/throttling\.py)")


def _catalog(language: str) -> list[tuple[list[str], str, str]]:
    """(source references, msgid, msgstr) of each entry of a language's .po file."""
    entries = []
    for block in (LOCALE / language / "LC_MESSAGES" / "django.po").read_text(encoding="utf-8").split("\n\n"):
        refs, strings, field = [], {"msgid": "", "msgstr": ""}, None
        for line in block.splitlines():
            if line.startswith("#:"):
                refs += [ref.rsplit(":", 1)[0] for ref in line[2:].split()]
            elif line.startswith(("msgid ", "msgstr ")):
                field, _, literal = line.partition(" ")
                strings[field] = _unquote(literal)
            elif line.startswith('"') and field:
                strings[field] += _unquote(line)
        if strings["msgid"]:
            entries.append((refs, strings["msgid"], strings["msgstr"]))
    return entries


def _unquote(literal: str) -> str:
    return json.loads(literal)  # the escapes a .po file uses (\" \\ \n \t) are JSON's too


def _join(client: Client, slug: str) -> None:
    client.post(f"/s/{slug}/", {"consent": "yes"})
    client.post(f"/s/{slug}/profile/", {"party": "D"})


@pytest.mark.parametrize("language", ["fr", "it", "pt", "hi"])
def test_every_string_of_the_annotator_pages_is_translated(language):
    entries = [(msgid, msgstr) for refs, msgid, msgstr in _catalog(language)
               if any(ANNOTATOR_SOURCES.match(ref) for ref in refs)]
    assert len(entries) >= 50
    assert [msgid for msgid, msgstr in entries if not msgstr] == []
    for msgid, msgstr in entries:  # a placeholder lost or renamed would crash or garble the page
        assert sorted(re.findall(r"%\(\w+\)\w", msgstr)) == sorted(re.findall(r"%\(\w+\)\w", msgid)), msgid


def test_the_five_languages_are_the_ones_a_study_may_choose():
    assert [code for code, _name in settings.LANGUAGES] == ["en", "fr", "it", "pt", "hi"]


@pytest.mark.parametrize(("language", "better", "tie"), [
    ("it", "A è migliore", "Pari"),
    ("pt", "A é melhor", "Empate"),
    ("hi", "A बेहतर है", "बराबर"),
])
def test_the_annotate_page_speaks_the_study_language(language, better, tie):
    make_study(slug=f"lang-{language}", language=language)
    client = Client()
    _join(client, f"lang-{language}")
    page = client.get(f"/s/lang-{language}/annotate/").content.decode()
    assert f'<html lang="{language}">' in page
    assert better in page and tie in page and "A is better" not in page


@pytest.mark.parametrize("language", ["fr", "it", "pt", "hi"])
def test_the_compiled_catalog_holds_what_the_po_file_says(language):
    # Django reads the .mo: a .po edited without `compilemessages` would not reach the pages.
    with (LOCALE / language / "LC_MESSAGES" / "django.mo").open("rb") as compiled:
        catalog = gettext.GNUTranslations(compiled)._catalog
    written = {msgid: msgstr for _refs, msgid, msgstr in _catalog(language) if msgstr}
    assert {msgid: catalog.get(msgid) for msgid in written} == written
