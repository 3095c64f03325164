"""Database sessions whose one read per request is compiled once per process.

Django's ``db`` engine, unchanged but for how it reads the row: every
signed-in request loads its session, and building and compiling that
one-row query cost more than running it. The row is read afresh every time
(core.compiled); only whether it has expired is asked in Python, since a
``now()`` in the SQL would change it on every request.

Imports no app of ours (see core/__init__.py).
"""

from __future__ import annotations

from django.contrib.sessions.backends import db
from django.contrib.sessions.models import Session
from django.utils import timezone

from .compiled import CompiledQueries

_compiled = CompiledQueries()


class SessionStore(db.SessionStore):
    def _get_session_from_db(self) -> Session | None:
        found = _compiled.rows(
            "session", lambda key: self.model.objects.filter(session_key=key), self.session_key
        )
        if found and found[0].expire_date > timezone.now():
            return found[0]
        # Unknown or expired: as Django's engine does, a new key on save.
        self._session_key = None
        return None
