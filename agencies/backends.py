"""How a signed-in person is loaded on each request."""

from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from .models import User


class UserBackend(ModelBackend):
    """Django's ModelBackend, but the person comes with their organization.

    Every signed-in page shows the organization's name in the header, and the
    rules ask for ``user.agency`` on most requests: loading both in the query
    that loads the person saves a query on every page.
    """

    def get_user(self, user_id) -> User | None:
        try:
            user = User._default_manager.select_related("agency").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
