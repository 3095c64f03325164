"""Two fixes to Django's admin (5.2) for crafted requests, found by tests/test_hostile_input.py.

Both are 500s a superuser's browser never produces, but a forged request (or a
mistyped address) does, and "never a 500 on bad input" holds for the admin
too. Django's admin autodiscovery imports this module at start-up, before any
request; the same walk fails if an upgrade of Django breaks them.

* ``?_to_field=`` (present but empty) reaches ``Options.get_field("")`` in
  ``ModelAdmin.get_object``: FieldDoesNotExist. An empty value now means "the
  primary key", as an absent one does.
* An autocomplete field (``autocomplete_fields``) re-rendered with a value its
  model cannot hold ("abc" or "\\x00" for an id) runs the lookup anyway while
  drawing the form: ValueError, or PostgreSQL refusing the NUL. Such values are
  left out of the drawing; the form itself still reports them as invalid.
"""

from __future__ import annotations

from django.contrib.admin import ModelAdmin
from django.contrib.admin.widgets import AutocompleteMixin
from django.core.exceptions import ValidationError

from core.text import has_control_characters

_get_object = ModelAdmin.get_object
_optgroups = AutocompleteMixin.optgroups


def get_object(self, request, object_id, from_field=None):
    return _get_object(self, request, object_id, from_field or None)


def optgroups(self, name, value, attr=None):
    remote = self.field.remote_field
    options = remote.model._meta
    target = options.get_field(getattr(remote, "field_name", options.pk.attname))
    return _optgroups(self, name, [v for v in value if _holds(target, v)], attr)


def _holds(field, value) -> bool:
    """Whether ``value`` can be looked up in ``field`` without the database refusing it."""
    if isinstance(value, str) and has_control_characters(value):
        return False
    try:
        field.run_validators(field.to_python(value))
    except (ValidationError, TypeError, ValueError):
        return False
    return True


ModelAdmin.get_object = get_object
AutocompleteMixin.optgroups = optgroups

# The top floor's own admin pages (the daily digests).
from . import digest_admin  # noqa: E402, F401
