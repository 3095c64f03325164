"""How a signed-in person is loaded on each request."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError

from core.compiled import CompiledQueries

from .models import User

# Asked on every signed-in request: compiled once per process (core.compiled).
_compiled = CompiledQueries()


def _with_agency(pk: int):
    return User._default_manager.select_related("agency").filter(pk=pk)


class UserBackend(ModelBackend):
    """Django's ModelBackend, but the person comes with their organization.

    Every signed-in page shows the organization's name in the header, and the
    rules ask for ``user.agency`` on most requests: loading both in the query
    that loads the person saves a query on every page.
    """

    def get_user(self, user_id) -> User | None:
        try:
            pk = User._meta.pk.to_python(user_id)
        except ValidationError:
            return None
        found = _compiled.rows("user", _with_agency, pk)
        if not found:
            return None
        return found[0] if self.user_can_authenticate(found[0]) else None
