"""What higher apps add to the issue pages, registered from their ``AppConfig.ready()``.

``issues`` sits below ``meetings`` and never imports it (STYLE.md, "Apps by
domain"). Where an issue page shows something a higher app owns — the
meetings whose agenda holds the issue, the list filter "on an upcoming
agenda" — that app registers it here, and the issue pages ask:

- a **fragment**: a section of the issue page that the higher app serves at
  its own URL (taking the issue's id) and the page loads with htmx
  (``hx-trigger="load"``), with a plain link to the same URL as the fallback
  without JavaScript;
- a **filter**: a named condition on issues for ``/issues/?<name>=1``.

Without registrations the issue pages simply show neither (the app is not
installed). The timeline's meeting names have their own seam (``timeline.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db.models import Q
from django.urls import reverse


@dataclass(frozen=True)
class IssueFragment:
    """A section of the issue page served by another app."""

    key: str  # the element's id on the page
    url_name: str  # a URL name taking the issue's id
    label: str  # the fallback link's text

    def url(self, issue_id: int) -> str:
        return reverse(self.url_name, args=[issue_id])


_fragments: dict[str, IssueFragment] = {}
_filters: dict[str, Callable[[], Q]] = {}


def register_fragment(fragment: IssueFragment) -> None:
    _fragments[fragment.key] = fragment


def fragments() -> list[IssueFragment]:
    return list(_fragments.values())


def register_filter(name: str, condition: Callable[[], Q]) -> None:
    """``condition()`` is evaluated per request (it may depend on the time)."""
    _filters[name] = condition


def filter_condition(name: str) -> Q | None:
    """The registered condition, or None when no app provides that filter."""
    condition = _filters.get(name)
    return condition() if condition is not None else None
