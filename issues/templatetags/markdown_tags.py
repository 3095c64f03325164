"""Template filter for user-written Markdown.

Usage: ``{% load markdown_tags %}{{ issue.description|markdown }}``
"""

from django import template
from django.utils.safestring import SafeString

from issues.markdown import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str | None) -> SafeString:
    """Render Markdown through the shared, sanitizing renderer (see issues.markdown)."""
    return render_markdown(text)
