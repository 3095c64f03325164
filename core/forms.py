"""Form helpers every app may use."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.text import has_control_characters, strip_control_characters

# Upper bounds for free text, in characters. Generous for real documents
# (a long issue description is ~5,000 characters), small enough that one
# request cannot fill the database or make a page megabytes long.
LONG_TEXT_MAX_LENGTH = 20_000


class ControlCharacterMixin:
    """Refuse control characters (NUL, ``\\x01``…) in any field, keeping the rest of the input.

    A NUL byte reaches PostgreSQL as a 500 ("A string literal cannot contain
    NUL"), even through a choice field's lookup; other control characters are
    stored and later break e-mails, CSV exports and XML. So before any field
    is cleaned they are taken out of what was submitted, and each field that
    held some gets an error: the form comes back with everything else the
    person typed, for them to check and send again. Multi-line text
    (``Textarea``) may keep tabs and line breaks.

    Put it first among a form's bases: ``class MyForm(ControlCharacterMixin, forms.Form)``.
    """

    control_character_message = _(
        "This field contained invisible control characters; they were removed. "
        "Check the text and send it again."
    )

    def full_clean(self) -> None:
        tainted = self._remove_control_characters() if self.is_bound else []
        super().full_clean()
        for name in tainted:
            self.add_error(
                name, ValidationError(self.control_character_message, code="control_characters")
            )

    def _remove_control_characters(self) -> list[str]:
        data = self.data
        cleaned = data.copy()  # QueryDict.copy() is mutable; a dict's copy is too
        tainted = []
        for name, field in self.fields.items():
            multiline = isinstance(field.widget, forms.Textarea)
            html_name = self.add_prefix(name)
            # MultiWidgets (split date and time) post name_0, name_1, ...
            keys = [
                key
                for key in data
                if key == html_name or re.fullmatch(rf"{re.escape(html_name)}_\d+", key)
            ]
            for key in keys:
                values = _values(data, key)
                if not any(
                    isinstance(v, str) and has_control_characters(v, multiline=multiline)
                    for v in values
                ):
                    continue
                kept = [
                    strip_control_characters(v, multiline=multiline) if isinstance(v, str) else v
                    for v in values
                ]
                if hasattr(cleaned, "setlist"):
                    cleaned.setlist(key, kept)
                else:
                    cleaned[key] = kept if isinstance(data[key], list | tuple) else kept[0]
                if name not in tainted:
                    tainted.append(name)
        if tainted:
            self.data = cleaned
        return tainted


def _values(data, key: str) -> list:
    if hasattr(data, "getlist"):
        return data.getlist(key)
    value = data[key]
    return list(value) if isinstance(value, list | tuple) else [value]
