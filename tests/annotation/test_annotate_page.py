"""The annotate page's text: instructions panel, Markdown prompts and responses, sanitised on the server."""

import pytest

from annotation.errors import InputError
from annotation.markdown_text import markdown_html
from annotation.study_files import study_import
from tests.factories import jsonl_bytes, make_participant, make_study, study_lines

pytestmark = pytest.mark.django_db

INSTRUCTIONS = "Compare the **two answers**.\n\n- Read both\n- Pick the one that fits your values"


def _annotate_page(client, django_user_model, study) -> str:
    participant = make_participant(study, django_user_model.objects.create_user(f"u-{study.slug}"), party="D")
    client.force_login(participant.user)
    return client.get(f"/s/{study.slug}/annotate/").content.decode()


def test_the_instructions_panel_renders_markdown_and_is_open_before_the_first_choice(client, db, django_user_model):
    study = make_study(slug="ins", instructions=INSTRUCTIONS)
    html = _annotate_page(client, django_user_model, study)
    assert '<details class="instructions card" id="instructions" open>' in html
    assert "<strong>two answers</strong>" in html and "<li>Read both</li>" in html
    assert 'id="instructions-link" href="#instructions"' in html


def test_a_study_without_instructions_has_no_panel(client, study, django_user_model):
    html = _annotate_page(client, django_user_model, study)
    assert 'id="instructions"' not in html


def test_responses_are_markdown_with_code_in_monospace_and_scripts_removed(client, db, django_user_model):
    lines = study_lines(slug="md", prompts=1, candidates=2)
    lines[1]["candidates"][0]["text"] = "Use `ls`:\n\n```\nls -la\n```\n<script>alert('x')</script>"
    lines[1]["candidates"][1]["text"] = '[click](javascript:alert(1)) <img src=x onerror="alert(1)"> **bold**'
    lines[1]["turns"][0]["content"] = "# Title\n\nWhich *one*?"
    study = study_import(jsonl_bytes(lines), source="md.jsonl").study
    html = _annotate_page(client, django_user_model, study)
    assert "<code>ls</code>" in html and "<pre><code>ls -la\n</code></pre>" in html
    assert "<script>alert" not in html and "onerror" not in html and "javascript:" not in html
    assert "<strong>bold</strong>" in html and "<h1>Title</h1>" in html and "<em>one</em>" in html


def test_markdown_keeps_links_but_not_their_scripts():
    html = markdown_html('[site](https://example.org) <a href="https://x.org" onclick="evil()">x</a>')
    assert 'href="https://example.org"' in html and "onclick" not in html
    assert 'rel="noopener noreferrer nofollow"' in html


@pytest.mark.parametrize("value, message", [(["not", "text"], "must be a string"), ("x" * 50_001, "at most 50000")])
def test_bad_instructions_are_refused_with_line_and_field(db, value, message):
    with pytest.raises(InputError) as error:
        study_import(jsonl_bytes(study_lines(slug="bad", instructions=value)), source="bad.jsonl")
    assert (error.value.line, error.value.field) == (1, "study.instructions")
    assert message in error.value.message
