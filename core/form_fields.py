"""Form fields every app may use. Imports no app of ours."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import LONG_TEXT_MAX_LENGTH


def text_area_field(
    label,
    *,
    rows: int,
    max_length: int = LONG_TEXT_MAX_LENGTH,
    markdown: bool = False,
    **kwargs,
) -> forms.CharField:
    """Free text in a box of ``rows`` lines, always with an upper bound.

    The models' TextFields have no limit; the form reports one next to the
    field, keeping what was typed. ``markdown`` tells the person the text is
    shown as Markdown (the pages render it so).
    """
    if markdown:
        kwargs["help_text"] = _("Markdown is supported.")
    return forms.CharField(
        label=label,
        max_length=max_length,
        widget=forms.Textarea(attrs={"rows": rows}),
        **kwargs,
    )
