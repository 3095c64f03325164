"""Idempotent demo data: the city hall, the 24 organizations and their users."""

import json
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import transaction

from agencies.models import Agency, Role, User

DATA_FILE = Path(settings.BASE_DIR) / "agencies" / "data" / "agencies.json"
DEMO_PASSWORD = "gwangju-demo-2026"  # noqa: S105 - demo data only, printed on purpose

# Korean family and given names for demo accounts, chosen deterministically so
# that running the command twice yields the same people.
FAMILY_NAMES = "김이박최정강조윤장임한오서신권황안송류홍"
GIVEN_NAMES = ["민준", "서연", "도윤", "지우", "하준", "서윤", "은우", "지민", "시우", "수아"]


class Command(BaseCommand):
    help = "Create or update demo organizations and users (safe to run repeatedly)."

    def handle(self, *args, **options) -> None:
        with transaction.atomic():
            agencies = self.seed_agencies()
            logins = self.seed_users(agencies)
        self.print_logins(logins)

    def seed_agencies(self) -> list[Agency]:
        data = json.loads(DATA_FILE.read_text(encoding="utf-8"))
        rows = [data["city"], *data["agencies"]]
        agencies = []
        for order, row in enumerate(rows):
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
        self.stdout.write(f"Organizations: {len(agencies) - 1} + city hall")
        return agencies

    def seed_users(self, agencies: list[Agency]) -> list[tuple[str, str]]:
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
        existing = set(
            User.objects.filter(username__in=[p[0] for p in people]).values_list(
                "username", flat=True
            )
        )
        for index, (username, agency, role) in enumerate(people):
            defaults = {
                "agency": agency,
                "role": role,
                "last_name": FAMILY_NAMES[index % len(FAMILY_NAMES)],
                "first_name": GIVEN_NAMES[index % len(GIVEN_NAMES)],
                "email": f"{username}@example.go.kr",
                "is_active": True,
            }
            user, created = User.objects.update_or_create(username=username, defaults=defaults)
            if username not in existing:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])

        admin, created = User.objects.get_or_create(
            username="admin",
            defaults={"agency": city, "role": Role.MAYOR_OFFICE, "email": "admin@example.go.kr"},
        )
        if created:
            admin.set_password(DEMO_PASSWORD)
        admin.is_staff = admin.is_superuser = True
        admin.save()
        self.stdout.write(f"Users: {len(people)} + 1 superuser")
        return [
            ("admin", "superuser (/admin/)"),
            ("mayor1", "mayor_office"),
            (f"{organizations[0].slug}-head", f"head, {organizations[0].name_ko}"),
            (f"{organizations[0].slug}-vice", f"vice_head, {organizations[0].name_ko}"),
            (f"{organizations[0].slug}-staff1", f"staff, {organizations[0].name_ko}"),
            (f"{organizations[1].slug}-staff1", f"staff, {organizations[1].name_ko}"),
        ]

    def print_logins(self, logins: list[tuple[str, str]]) -> None:
        self.stdout.write(self.style.SUCCESS(f"\nDemo logins (password for all: {DEMO_PASSWORD}):"))
        for username, what in logins:
            self.stdout.write(f"  {username:<16} {what}")
        self.stdout.write(
            "  Every organization has <slug>-head, <slug>-vice, <slug>-staff1, <slug>-staff2."
        )
