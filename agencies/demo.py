"""Demo organizations and users, for ``manage.py seed_demo`` (idempotent)."""

import json
from pathlib import Path
from typing import TextIO

from django.conf import settings
from django.contrib.auth.hashers import make_password

from agencies.models import Agency, Role, User

DATA_FILE = Path(settings.BASE_DIR) / "agencies" / "data" / "agencies.json"
DEMO_PASSWORD = "gwangju-demo-2026"  # noqa: S105 - demo data only, printed on purpose

# Korean family and given names for demo accounts, chosen deterministically so
# that running the command twice yields the same people.
FAMILY_NAMES = "김이박최정강조윤장임한오서신권황안송류홍"
GIVEN_NAMES = ["민준", "서연", "도윤", "지우", "하준", "서윤", "은우", "지민", "시우", "수아"]


def demo_name(index: int) -> tuple[str, str]:
    """(family, given) name of the index-th demo person, distinct for the first 200.

    The given name moves on one step more each time the family names come
    round again, so no two people (not even at different organizations) share
    a name: ``index`` and ``index + 20k`` differ in the given name for k < 10.
    """
    families, givens = len(FAMILY_NAMES), len(GIVEN_NAMES)
    return FAMILY_NAMES[index % families], GIVEN_NAMES[(index + index // families) % givens]


def seed_agencies(out: TextIO) -> list[Agency]:
    """Create or update the city hall and the organizations of agencies.json, in file order."""
    data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    agencies = []
    for order, row in enumerate([data["city"], *data["agencies"]]):
        agency, _ = Agency.objects.update_or_create(
            slug=row["slug"],
            defaults={
                "name_ko": row["name_ko"],
                "name_en": row["name_en"],
                "kind": row["kind"],
                "display_order": order * 10,
            },
        )
        agencies.append(agency)
    out.write(f"Organizations: {len(agencies) - 1} + city hall\n")
    return agencies


def seed_users(out: TextIO, agencies: list[Agency]) -> list[tuple[str, str]]:
    """Create the demo users; never resets a password someone has changed.

    Returns (username, description) pairs worth printing as demo logins.
    """
    city, organizations = agencies[0], agencies[1:]
    people: list[tuple[str, Agency, str]] = [
        ("mayor1", city, Role.MAYOR_OFFICE),
        ("mayor2", city, Role.MAYOR_OFFICE),
    ]
    for agency in organizations:
        people += [
            (f"{agency.slug}-head", agency, Role.HEAD),
            (f"{agency.slug}-vice", agency, Role.VICE_HEAD),
            (f"{agency.slug}-staff1", agency, Role.STAFF),
            (f"{agency.slug}-staff2", agency, Role.STAFF),
        ]
    # One PBKDF2 hash shared by every new demo account: hashing 99 passwords
    # one by one takes most of a minute, for no security gain on demo data.
    demo_password_hash = make_password(DEMO_PASSWORD)
    existing = set(
        User.objects.filter(username__in=[p[0] for p in people]).values_list("username", flat=True)
    )
    for index, (username, agency, role) in enumerate(people):
        family, given = demo_name(index)
        user, _ = User.objects.update_or_create(
            username=username,
            defaults={
                "agency": agency,
                "role": role,
                "last_name": family,
                "first_name": given,
                "email": f"{username}@example.go.kr",
                "is_active": True,
            },
        )
        if username not in existing:
            user.password = demo_password_hash
            user.save(update_fields=["password"])

    admin, created = User.objects.get_or_create(
        username="admin",
        defaults={"agency": city, "role": Role.MAYOR_OFFICE, "email": "admin@example.go.kr"},
    )
    if created:
        admin.set_password(DEMO_PASSWORD)
    admin.is_staff = admin.is_superuser = True
    admin.save()
    out.write(f"Users: {len(people)} + 1 superuser\n")
    first, second = organizations[0], organizations[1]
    return [
        ("admin", "superuser (/admin/)"),
        ("mayor1", "mayor_office"),
        (f"{first.slug}-head", f"head, {first.name_ko}"),
        (f"{first.slug}-vice", f"vice_head, {first.name_ko}"),
        (f"{first.slug}-staff1", f"staff, {first.name_ko}"),
        (f"{second.slug}-staff1", f"staff, {second.name_ko}"),
    ]


def print_logins(out: TextIO, logins: list[tuple[str, str]]) -> None:
    out.write(f"\nDemo logins (password for all: {DEMO_PASSWORD}):\n")
    for username, what in logins:
        out.write(f"  {username:<16} {what}\n")
    out.write("  Every organization has <slug>-head, <slug>-vice, <slug>-staff1, <slug>-staff2.\n")
