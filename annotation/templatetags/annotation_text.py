from django import template
from django.utils.safestring import SafeString, mark_safe

from annotation.markdown_text import markdown_html

register = template.Library()


@register.filter
def markdown(text: str) -> SafeString:
    # Safe to mark: markdown_html has passed it through the nh3 allow-list.
    return mark_safe(markdown_html(str(text or "")))  # noqa: S308
