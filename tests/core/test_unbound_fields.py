"""An unbound form's fields are kept rendered (core/templatetags/ui.py
``unbound_field_key``, partials/field.html and check.html): whatever a field
shows must change the markup served, and a bound form is never served from
what was kept."""

import pytest
from django import forms
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.translation import gettext_lazy

from core.templatetags.ui import unbound_field_key


class NoteForm(forms.Form):
    note = forms.CharField(label="메모", max_length=80, help_text="짧게 적어 주세요.")
    urgent = forms.BooleanField(label="긴급", required=False)
    kind = forms.ChoiceField(choices=[("a", "A"), ("b", "B")])


def _field(form, name="note") -> str:
    template = "partials/check.html" if name == "urgent" else "partials/field.html"
    return render_to_string(template, {"field": form[name]})


def test_the_same_unbound_field_is_served_as_first_rendered():
    first, second = _field(NoteForm()), _field(NoteForm())

    assert first == second
    assert 'name="note"' in first and 'maxlength="80"' in first


@pytest.mark.parametrize(
    "change",
    [
        lambda form: form.fields["note"].__setattr__("initial", "다른 값"),
        lambda form: form.fields["note"].__setattr__("label", "다른 이름"),
        lambda form: form.fields["note"].__setattr__("help_text", "다른 안내"),
        lambda form: form.fields["note"].__setattr__("required", False),
        lambda form: form.fields["note"].__setattr__("disabled", True),
        lambda form: form.fields["note"].widget.attrs.__setitem__("placeholder", "예: 회의 준비"),
        lambda form: setattr(form, "prefix", "other"),
        lambda form: setattr(form, "auto_id", "x-%s"),
        lambda form: setattr(form, "use_required_attribute", False),
    ],
    ids=[
        "initial",
        "label",
        "help text",
        "required",
        "disabled",
        "attrs",
        "prefix",
        "id",
        "required attribute",
    ],
)
def test_whatever_an_unbound_field_shows_changes_what_is_served(change):
    kept = _field(NoteForm())
    form = NoteForm()
    change(form)

    assert _field(form) != kept
    assert _field(form) == _field_uncached(form)


def _field_uncached(form, name="note") -> str:
    """The markup as rendered with nothing kept: the key made empty."""
    from core.templatetags import ui

    original = ui.register.filters["unbound_field_key"]
    ui.register.filters["unbound_field_key"] = lambda field: ""
    try:
        return _field(form, name)
    finally:
        ui.register.filters["unbound_field_key"] = original


def test_a_bound_form_is_rendered_with_its_own_values_and_errors():
    _field(NoteForm())  # kept
    form = NoteForm(data={"note": "x" * 81})
    form.is_valid()

    markup = _field(form)

    assert unbound_field_key(form["note"]) == ""
    assert "x" * 81 in markup
    assert "form-hint-invalid" in markup


def test_a_checkbox_is_kept_and_changes_with_its_initial_value():
    plain = _field(NoteForm(), "urgent")
    form = NoteForm(initial={"urgent": True})

    assert "checked" not in plain
    assert "checked" in _field(form, "urgent")


def test_each_language_gets_its_own_markup():
    class Translated(forms.Form):
        body = forms.CharField(label=gettext_lazy("Comment"))

    with translation.override("en"):
        english = _field(Translated(), "body")
    with translation.override("ko"):
        korean = _field(Translated(), "body")

    assert "Comment" in english
    assert "Comment" not in korean


def test_a_field_with_choices_is_never_kept():
    assert unbound_field_key(NoteForm()["kind"]) == ""
    assert unbound_field_key(NoteForm()["note"]) != ""
