"""Who may do what with an issue: pure functions of a user and an object.

Views, templates, search, exports and e-mails all ask these; the list of
issues a user may read is ``Issue.objects.visible_to(user)``. The table they
implement is in CONTRACT.md ("Who uses it").
"""

from __future__ import annotations

from agencies.models import Agency

from .models import Cooperation, Issue, Visibility


def is_involved(user, issue: Issue) -> bool:
    """True when the user's agency leads the issue or is asked to cooperate on it."""
    if user.agency_id is None:
        return False
    if issue.lead_agency_id == user.agency_id:
        return True
    return any(c.agency_id == user.agency_id for c in issue.cooperations.all())


def can_view(user, issue: Issue) -> bool:
    """Mirror of ``Issue.objects.visible_to`` for an issue already in hand."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.reads_everything or issue.visibility == Visibility.ALL:
        return True
    return is_involved(user, issue)


def can_create_for(user, agency: Agency) -> bool:
    """Staff file issues for their own agency; the Mayor's office for any agency."""
    if not user.is_authenticated or not agency.is_active:
        return False
    if user.reads_everything:
        return True
    return agency.pk == user.agency_id


def can_edit(user, issue: Issue) -> bool:
    """The lead agency's people edit an issue.

    The Mayor's office may also keep editing an issue it filed on an
    organization's behalf. Staff who filed an issue that later moved to
    another agency may not: that agency owns it now.
    """
    if not can_view(user, issue):
        return False
    if issue.lead_agency_id == user.agency_id:
        return True
    return user.reads_everything and issue.created_by_id == user.pk


def can_comment(user, issue: Issue) -> bool:
    """Involved agencies and the Mayor's office may comment (and attach files)."""
    if not can_view(user, issue):
        return False
    return user.reads_everything or is_involved(user, issue)


can_attach = can_comment


def can_answer_cooperation(user, cooperation: Cooperation) -> bool:
    """Only the requested agency's own people answer its cooperation request."""
    return (
        user.is_authenticated
        and user.is_active
        and user.agency_id is not None
        and cooperation.agency_id == user.agency_id
    )
