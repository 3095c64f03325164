"""A submitted form handed to the service that saves it. Imports no app of ours."""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.core.exceptions import ValidationError

from core.forms import add_service_errors


def run_service(form: forms.BaseForm, service: Callable[[dict], object]) -> bool:
    """Whether ``form`` is valid and ``service(form.cleaned_data)`` accepted it.

    Services validate again (they are also called from tasks and commands); a
    ValidationError they raise lands in the form, next to the field it names,
    so the page shows it like the form's own errors. Other exceptions pass.
    """
    if not form.is_valid():
        return False
    try:
        service(form.cleaned_data)
    except ValidationError as exc:
        add_service_errors(form, exc)
        return False
    return True
