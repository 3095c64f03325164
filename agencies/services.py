"""Writes for organizations and users."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.utils.translation import gettext as _

from .models import DEFAULT_DELIVERY, Agency, Delivery, NoticeKind, Role, User

CSV_COLUMNS = ("username", "agency", "role", "email", "last_name", "first_name", "password")


@dataclass
class ImportResult:
    created: list[str] = field(default_factory=list)
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, message)


def users_import_csv(*, data: bytes) -> ImportResult:
    """Create staff accounts from a CSV file, one account per row.

    Good rows are created and bad rows are reported with their line number;
    one bad row never costs the administrator the rest of the file. Columns:
    ``username, agency (slug), role, email, last_name, first_name, password``
    (``password`` may be empty: the account then needs a password reset).
    Accepts UTF-8 with or without BOM, as Excel writes it.
    """
    result = ImportResult()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        result.errors.append((0, _("The file is not UTF-8 encoded. Save it as “CSV UTF-8”.")))
        return result

    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in ("username", "agency", "role") if c not in (reader.fieldnames or [])]
    if missing:
        result.errors.append(
            (1, _("Missing columns: %(columns)s") % {"columns": ", ".join(missing)})
        )
        return result

    agencies = {a.slug: a for a in Agency.objects.all()}
    roles = set(Role.values)
    seen: set[str] = set()
    for line, row in enumerate(reader, start=2):
        row = {k: (v or "").strip() for k, v in row.items() if k}
        username = row.get("username", "")
        problems = []
        if not username:
            problems.append(_("username is empty"))
        elif username in seen or User.objects.filter(username=username).exists():
            problems.append(_("username “%(username)s” already exists") % {"username": username})
        agency = agencies.get(row.get("agency", ""))
        if agency is None:
            problems.append(_("unknown organization “%(slug)s”") % {"slug": row.get("agency", "")})
        if row.get("role") not in roles:
            problems.append(_("unknown role “%(role)s”") % {"role": row.get("role", "")})
        email = row.get("email", "")
        if email:
            try:
                validate_email(email)
            except ValidationError:
                problems.append(_("invalid e-mail “%(email)s”") % {"email": email})
        user = User(
            username=username,
            agency=agency,
            role=row.get("role", ""),
            email=email,
            last_name=row.get("last_name", ""),
            first_name=row.get("first_name", ""),
        )
        password = row.get("password", "")
        if password and not problems:
            try:
                validate_password(password, user)
            except ValidationError as exc:
                problems.extend(exc.messages)
        if problems:
            result.errors.append((line, "; ".join(str(p) for p in problems)))
            continue
        if password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        with transaction.atomic():
            user.save()
        seen.add(username)
        result.created.append(username)
    return result


def agencies_deactivate(*, agencies) -> int:
    """Deactivate organizations and sign their users out of new sessions.

    History (issues, meetings) stays intact: organizations are never deleted.
    """
    with transaction.atomic():
        count = agencies.update(is_active=False)
        User.objects.filter(agency__in=agencies).update(is_active=False)
    return count


def user_update_settings(
    *, user: User, deliveries: dict[str, str], preferred_language: str
) -> User:
    """Save a person's own notice choices and language (/accounts/settings/).

    Only the choices that differ from the defaults are stored, so a later
    change of a default reaches everyone who never chose otherwise.
    """
    unknown = set(deliveries) - set(NoticeKind.values)
    if unknown or any(value not in Delivery.values for value in deliveries.values()):
        raise ValidationError(_("Choose how to be told for each kind of notice."))
    if preferred_language not in ("", *dict(User._meta.get_field("preferred_language").choices)):
        raise ValidationError({"preferred_language": _("Choose a language.")})
    user.notice_settings = {
        kind: value
        for kind, value in sorted(deliveries.items())
        if value != DEFAULT_DELIVERY[NoticeKind(kind)]
    }
    user.preferred_language = preferred_language
    user.save(update_fields=["notice_settings", "preferred_language"])
    return user
