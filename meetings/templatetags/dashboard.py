"""Words for the dashboard's figures: ``{% load dashboard %}``."""

from __future__ import annotations

from django import template
from django.utils.translation import ngettext

register = template.Library()


@register.filter
def waiting_long(count: int) -> str:
    """A cooperation map cell's "!" in words: "3 waiting more than 14 days".

    A filter, not ``{% blocktranslate count %}``: the map has up to one such
    cell per pair of organizations (~600), and the tag costs ten times more.
    """
    return ngettext(
        "%(counter)s waiting more than 14 days", "%(counter)s waiting more than 14 days", count
    ) % {"counter": count}
