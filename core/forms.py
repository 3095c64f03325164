"""Form helpers every app may use."""

from __future__ import annotations

import re

from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from core.text import has_control_characters, strip_control_characters

# Upper bounds for free text, in characters. Generous for real documents
# (a long issue description is ~5,000 characters), small enough that one
# request cannot fill the database or make a page megabytes long.
LONG_TEXT_MAX_LENGTH = 20_000


_INTEGER = re.compile(r"\s*[+-]?\d+\s*")
# What a database integer column holds (PostgreSQL bigint, SQLite INTEGER).
_INTEGER_RANGE = range(-(2**63), 2**63)


class SafeInputMixin:
    """Refuse what no field can take, before any field sees it; keep the rest of the input.

    * Control characters (NUL, ``\\x01``…) in any field: a NUL reaches
      PostgreSQL as a 500 ("A string literal cannot contain NUL"), even through
      a choice field's lookup; the others are stored and later break e-mails,
      CSV exports and XML. Multi-line text (``Textarea``) may keep tabs and
      line breaks.
    * Whole numbers beyond 64 bits in a number or an id field: SQLite's driver
      raises OverflowError on the lookup (PostgreSQL copes), a 500 again.

    The offending characters or values are taken out of what was submitted and
    the field gets an error, so the form comes back with everything else the
    person typed, for them to check and send again.

    Put it first among a form's bases: ``class MyForm(SafeInputMixin, forms.Form)``.
    """

    control_character_message = _(
        "This field contained invisible control characters; they were removed. "
        "Check the text and send it again."
    )

    def full_clean(self) -> None:
        refused = self._remove_unsafe_input() if self.is_bound else {}
        super().full_clean()
        for name, error in refused.items():
            self.add_error(name, error)

    def _remove_unsafe_input(self) -> dict[str, ValidationError]:
        data = self.data
        cleaned = data.copy()  # QueryDict.copy() is mutable; a dict's copy is too
        refused: dict[str, ValidationError] = {}
        for name, field in self.fields.items():
            html_name = self.add_prefix(name)
            # MultiWidgets (split date and time) post name_0, name_1, ...
            keys = [
                key
                for key in data
                if key == html_name or re.fullmatch(rf"{re.escape(html_name)}_\d+", key)
            ]
            for key in keys:
                values = _values(data, key)
                kept, error = _safe_values(field, values)
                if error is None:
                    continue
                if hasattr(cleaned, "setlist"):
                    cleaned.setlist(key, kept)
                else:
                    cleaned[key] = kept if isinstance(data[key], list | tuple) else kept[0]
                refused.setdefault(name, error)
        if refused:
            self.data = cleaned
        return refused


def _safe_values(field: forms.Field, values: list) -> tuple[list, ValidationError | None]:
    """The submitted values a field may see, and the error to report if some were refused."""
    multiline = isinstance(field.widget, forms.Textarea)
    if any(isinstance(v, str) and has_control_characters(v, multiline=multiline) for v in values):
        kept = [
            strip_control_characters(v, multiline=multiline) if isinstance(v, str) else v
            for v in values
        ]
        return kept, ValidationError(
            SafeInputMixin.control_character_message, code="control_characters"
        )
    if _takes_integers(field):
        kept = [v for v in values if not _out_of_range(v)]
        if len(kept) != len(values):
            message = (
                forms.ModelChoiceField.default_error_messages["invalid_choice"]
                if isinstance(field, forms.ModelChoiceField)
                else forms.IntegerField.default_error_messages["invalid"]
            )
            return kept or [""], ValidationError(message, code="out_of_range")
    return values, None


def _takes_integers(field: forms.Field) -> bool:
    if isinstance(field, forms.IntegerField):
        return True
    if isinstance(field, forms.ModelChoiceField) and field.to_field_name is None:
        return isinstance(field.queryset.model._meta.pk, models.IntegerField)
    return False


def _out_of_range(value) -> bool:
    return (
        isinstance(value, str)
        and bool(_INTEGER.fullmatch(value))
        and int(value) not in _INTEGER_RANGE
    )


def parse_id(value) -> int | None:
    """``value`` as a database id, or None if it is not a whole number a database can hold."""
    if isinstance(value, int):
        value = str(value)
    if not isinstance(value, str) or not _INTEGER.fullmatch(value):
        return None
    number = int(value)
    return number if number in _INTEGER_RANGE else None


def _values(data, key: str) -> list:
    if hasattr(data, "getlist"):
        return data.getlist(key)
    value = data[key]
    return list(value) if isinstance(value, list | tuple) else [value]


class KRDSFormMixin:
    """Give each widget the KRDS class for its kind, so templates stay plain."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.Select | forms.SelectMultiple):
                css = "krds-form-select"
            elif isinstance(
                widget, forms.CheckboxInput | forms.CheckboxSelectMultiple | forms.RadioSelect
            ):
                css = ""
            else:
                css = "krds-input"
            if css:
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} {css}".strip()


def add_service_errors(form: forms.BaseForm, exc: ValidationError) -> None:
    """Show a service's ValidationError in the form the user submitted.

    Services validate again (they are also called from tasks and commands);
    their errors land on the matching field, or on the form as a whole.
    """
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


def rebound_at_version(form_class, data, version: int, message: str, **kwargs):
    """The form as submitted, moved to ``version``, with ``message`` above it.

    For "someone else saved first": every character the person typed stays,
    and saving again from this form is a deliberate choice against the new
    version. ``kwargs`` go to the form (``instance``, ``user``, …).
    """
    data = data.copy()
    data["version"] = str(version)
    form = form_class(data, **kwargs)
    form.is_valid()
    form.add_error(None, message)
    return form
