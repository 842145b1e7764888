"""Prompts, responses and instructions as Markdown, sanitised on the server.

Texts come from study files (model outputs, researchers' instructions): whatever HTML they carry is
cleaned by an allow-list (nh3) after Markdown has been rendered, so a response can show code, lists and
tables but never run a script or restyle the page.
"""

from functools import lru_cache

import markdown
import nh3

_TAGS = {
    "p", "br", "hr", "em", "strong", "b", "i", "del", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "a", "sup", "sub",
}
_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}, "ol": {"start"}}


@lru_cache(maxsize=4096)  # the same texts are shown to every annotator of a pair
def markdown_html(text: str) -> str:
    """Safe HTML for a Markdown text: fenced code in monospace, links that open nothing of ours."""
    html = markdown.markdown(text, extensions=["fenced_code", "tables", "sane_lists"], output_format="html")
    return nh3.clean(
        html, tags=_TAGS, attributes=_ATTRIBUTES, url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )
